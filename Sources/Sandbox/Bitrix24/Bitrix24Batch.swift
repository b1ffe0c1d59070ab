import Foundation
import SwitchboardCore

/// `batch`: up to 50 sub-calls run in the order sent, `$result[key][…]` references, `halt`.
///
/// A reference to something that does not exist (a row past the end of a short page, a failed
/// command) resolves to an empty string, as in Bitrix24: `filter[>ID]=$result[p0][49][ID]` after a
/// page of 12 rows becomes `filter[>ID]=` and matches everything again — which is why clients chaining
/// keyset pages inside one batch must stop at the first short page instead of trusting later results.
extension Bitrix24Emulator {
    static let maxBatchLength = 50

    func batch(_ params: [String: JSONValue], rawBody: String?, bodyIsJSON: Bool, caller: Caller, start: Double) -> Answer {
        let halt = param(params, "halt").flatMap { $0.boolValue } ?? false
        var commands: [String: String] = [:]
        switch param(params, "cmd") {
        case .object(let object)?: for (key, value) in object { commands[key] = B24.text(value) ?? "" }
        case .array(let items)?: for (index, value) in items.enumerated() { commands[String(index)] = B24.text(value) ?? "" }
        case nil, .null?: break
        default: return .error(400, "", "Parameter 'cmd' must be array.")
        }
        guard commands.count <= Self.maxBatchLength else {
            return .error(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        }
        var results: [String: JSONValue] = [:], errors: [String: JSONValue] = [:]
        var totals: [String: JSONValue] = [:], nexts: [String: JSONValue] = [:], times: [String: JSONValue] = [:]
        for key in Self.commandOrder(Array(commands.keys), rawBody: rawBody, bodyIsJSON: bodyIsJSON) {
            let subStart = clock()
            let outcome = subCall(commands[key]!, results: results, caller: caller)
            times[key] = time(start: subStart)
            switch outcome {
            case .ok(let result, let total, let next):
                results[key] = result
                if let total { totals[key] = .number(Double(total)) }
                if let next { nexts[key] = .number(Double(next)) }
            case .fail(_, let code, let description):
                errors[key] = ["error": .string(code), "error_description": .string(description)]
            }
            if halt, !errors.isEmpty { break }
        }
        // PHP's json_encode prints an empty array as `[]`.
        func container(_ object: [String: JSONValue]) -> JSONValue { object.isEmpty ? .array([]) : .object(object) }
        let result: JSONValue = [
            "result": container(results), "result_error": container(errors), "result_total": container(totals),
            "result_next": container(nexts), "result_time": container(times),
        ]
        return Answer(status: 200, body: ["result": result, "time": time(start: start)])
    }

    /// The keys in the order the client wrote them (read from the raw body), else in natural order (`p2` before `p10`).
    static func commandOrder(_ keys: [String], rawBody: String?, bodyIsJSON: Bool) -> [String] {
        var written: [String] = []
        if let rawBody {
            if bodyIsJSON {
                written = OrderedJSONKeys.keys(at: ["cmd"], in: rawBody) ?? OrderedJSONKeys.keys(at: ["CMD"], in: rawBody) ?? []
            } else if let pairs = try? FormURLEncoding.decode(rawBody) {
                for (name, _) in pairs where name.lowercased().hasPrefix("cmd[") {
                    let key = String(name.dropFirst(4).prefix { $0 != "]" })
                    if !written.contains(key) { written.append(key) }
                }
            }
        }
        let present = Set(keys)
        var order = written.filter { present.contains($0) }
        let rest = present.subtracting(order).sorted(by: naturalLess)
        order += rest
        return order
    }

    static func naturalLess(_ a: String, _ b: String) -> Bool {
        let pa = a.prefix { !$0.isNumber }, pb = b.prefix { !$0.isNumber }
        if pa != pb { return pa < pb }
        if let na = Int(a.dropFirst(pa.count)), let nb = Int(b.dropFirst(pb.count)), na != nb { return na < nb }
        return a < b
    }

    private func subCall(_ command: String, results: [String: JSONValue], caller: Caller) -> Outcome {
        let parts = command.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var name = String(parts.first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        if name.hasSuffix(".json") { name = String(name.dropLast(5)) }
        if name == "batch" {
            methodCalls.append("batch")
            return .fail(400, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
        }
        guard let params = try? FormURLEncoding.decodeNested(parts.count > 1 ? String(parts[1]) : "") else {
            return .fail(400, "INVALID_REQUEST", "Malformed command")
        }
        let resolved = params.mapValues { substitute($0, results) }
        return call(name, params: resolved, caller: caller)
    }

    /// Replaces every `$result[key][a][b]…` inside the string values of a parameter.
    func substitute(_ value: JSONValue, _ results: [String: JSONValue]) -> JSONValue {
        switch value {
        case .string(let text) where text.contains("$result["): return .string(Self.resolveReferences(text, results))
        case .array(let items): return .array(items.map { substitute($0, results) })
        case .object(let members): return .object(members.mapValues { substitute($0, results) })
        default: return value
        }
    }

    static func resolveReferences(_ text: String, _ results: [String: JSONValue]) -> String {
        var out = ""
        var rest = Substring(text)
        while let range = rest.range(of: "$result[") {
            out += rest[..<range.lowerBound]
            var cursor = rest.index(before: range.upperBound)  // at the first "["
            var path: [String] = []
            while cursor < rest.endIndex, rest[cursor] == "[", let close = rest[cursor...].firstIndex(of: "]") {
                path.append(String(rest[rest.index(after: cursor)..<close]))
                cursor = rest.index(after: close)
            }
            var node: JSONValue? = path.first.flatMap { results[$0] }
            for segment in path.dropFirst() {
                switch node {
                case .array(let items)?: node = Int(segment).flatMap { items.indices.contains($0) ? items[$0] : nil }
                case .object(let members)?: node = members[segment]
                default: node = nil
                }
            }
            switch node {
            case .bool(let flag)?: out += flag ? "1" : ""
            case let scalar?: out += B24.text(scalar) ?? ""
            case nil: break
            }
            rest = rest[cursor...]
        }
        return out + rest
    }
}
