/// One AMI message (an event, a response or an action): ordered `Key: Value` headers.
/// Lookup ignores case, as Asterisk's own parser does.
public struct AMIMessage: Sendable, Equatable, CustomStringConvertible {
    public var headers: [(name: String, value: String)]

    public init(_ headers: [(name: String, value: String)] = []) {
        self.headers = headers
    }

    public static func == (lhs: AMIMessage, rhs: AMIMessage) -> Bool {
        lhs.headers.elementsEqual(rhs.headers) { $0.name == $1.name && $0.value == $1.value }
    }

    /// The first header called `name` (any case).
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name.lowercased() == lowered }?.value
    }

    public var event: String? { self["Event"] }
    public var response: String? { self["Response"] }
    public var actionID: String? { self["ActionID"] }

    public var description: String { headers.map { "\($0.name): \($0.value)" }.joined(separator: " | ") }

    /// The wire form: `Key: Value\r\n` lines and an empty line. CR and LF inside values are replaced by
    /// spaces, so a value can never smuggle in another header or action.
    public func encoded() -> String {
        var text = ""
        for (name, value) in headers {
            text += Self.clean(name) + ": " + Self.clean(value) + "\r\n"
        }
        return text + "\r\n"
    }

    private static func clean(_ text: String) -> String {
        String(text.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }
}
