/// The one error type that crosses module boundaries.
///
/// Every failure a caller can act on is a `SwitchboardError` with a stable machine `code`, a human
/// `message` and, for input errors, the `field` that was wrong. The HTTP layer maps `kind` to a status
/// and renders `{"error":{"code","message","field"}}`; the CLI prints the message.
public struct SwitchboardError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, independent of transport.
    public enum Kind: String, Sendable, Equatable {
        case invalidInput, unauthorized, forbidden, notFound, conflict, tooLarge, unavailable, notImplemented, `internal`
    }

    public var kind: Kind
    public var code: String
    public var message: String
    public var field: String?

    public init(_ kind: Kind, code: String, message: String, field: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String {
        field.map { "\(code): \(message) (field: \($0))" } ?? "\(code): \(message)"
    }

    public static func invalid(_ field: String, _ message: String, code: String = "invalid_field") -> Self {
        .init(.invalidInput, code: code, message: message, field: field)
    }

    public static func notFound(_ what: String, field: String? = nil) -> Self {
        .init(.notFound, code: "not_found", message: "\(what) not found", field: field)
    }

    public static func conflict(_ message: String, field: String? = nil) -> Self {
        .init(.conflict, code: "conflict", message: message, field: field)
    }

    public static let unauthorized = Self(.unauthorized, code: "unauthorized", message: "missing or invalid credentials")

    public static func forbidden(_ message: String = "this credential may not access that resource") -> Self {
        .init(.forbidden, code: "forbidden", message: message)
    }
}
