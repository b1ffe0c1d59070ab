/// PHP-style bracket keys in form bodies and query strings (`data[FIELDS][ID]=7`, `filter[>ID]=50`,
/// `leads[add][0][id]=1`): what Bitrix24 and amoCRM send in their webhooks and what Bitrix24's `batch`
/// commands are written in. Values are strings, as PHP sees them; a level whose keys are exactly
/// `0…n-1` (or written `[]`) becomes an array, as PHP's `json_encode` would render it.
extension FormURLEncoding {
    /// Nesting deeper than this is refused (PHP's own limit is 64).
    public static let maxNestingDepth = 32

    /// Decodes a form body with bracket keys into an object. A later value for the same key wins, as in PHP.
    public static func decodeNested(_ body: String) throws(SwitchboardError) -> [String: JSONValue] {
        let root = Node()
        for (name, value) in try decode(body) {
            let path = try bracketPath(name)
            root.insert(path[...], value: value)
        }
        return root.objectValue
    }

    /// Splits `a[b][]` into `["a", "b", ""]`; a key whose brackets do not pair up is taken literally.
    static func bracketPath(_ name: String) throws(SwitchboardError) -> [String] {
        guard let open = name.firstIndex(of: "["), open != name.startIndex else { return [name] }
        var path = [String(name[..<open])]
        var rest = name[open...]
        while rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else { return [name] }
            path.append(String(rest[rest.index(after: rest.startIndex)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        // PHP ignores anything after the last closing bracket.
        guard path.count <= maxNestingDepth else {
            throw .invalid("body", "form key '\(name.prefix(80))' is nested deeper than \(maxNestingDepth) levels")
        }
        return path
    }

    /// Encodes an object as bracket-keyed pairs, the way PHP's `http_build_query` does: arrays by index,
    /// `true`/`false` as `1`/`0`, nulls left out, keys in sorted order (so the output is stable).
    public static func encodeNested(_ object: [String: JSONValue]) -> String {
        var pairs: [(String, String)] = []
        for key in object.keys.sorted() { flatten(object[key]!, name: key, into: &pairs) }
        return encode(pairs)
    }

    private static func flatten(_ value: JSONValue, name: String, into pairs: inout [(String, String)]) {
        switch value {
        case .null: break
        case .bool(let flag): pairs.append((name, flag ? "1" : "0"))
        case .number(let number):
            pairs.append((name, number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)))
        case .string(let text): pairs.append((name, text))
        case .array(let items):
            for (index, item) in items.enumerated() { flatten(item, name: "\(name)[\(index)]", into: &pairs) }
        case .object(let members):
            for key in members.keys.sorted() { flatten(members[key]!, name: "\(name)[\(key)]", into: &pairs) }
        }
    }

    /// One level of the tree being decoded; keys keep their first-seen order.
    private final class Node {
        var keys: [String] = []
        var children: [String: Node] = [:]
        var values: [String: String] = [:]
        var nextIndex = 0

        func insert(_ path: ArraySlice<String>, value: String) {
            var key = path.first!
            if key.isEmpty {
                key = String(nextIndex)
            }
            if let index = Int(key), index >= nextIndex { nextIndex = index + 1 }
            if !keys.contains(key) { keys.append(key) }
            if path.count == 1 {
                children[key] = nil
                values[key] = value
            } else {
                values[key] = nil
                let child = children[key] ?? Node()
                children[key] = child
                child.insert(path.dropFirst(), value: value)
            }
        }

        var objectValue: [String: JSONValue] {
            var object: [String: JSONValue] = [:]
            for key in keys { object[key] = children[key]?.jsonValue ?? values[key].map(JSONValue.string) }
            return object
        }

        var jsonValue: JSONValue {
            let object = objectValue
            if !keys.isEmpty, keys.count == object.count, keys.enumerated().allSatisfy({ String($0.offset) == $0.element }) {
                return .array(keys.map { object[$0]! })
            }
            return .object(object)
        }
    }
}
