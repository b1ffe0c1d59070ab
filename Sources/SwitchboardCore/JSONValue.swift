import Foundation

/// A JSON value that round-trips any document, used for free-form integration settings and log payloads.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // Strings first: CRM payloads are mostly strings, and every miss here is a thrown error.
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            // Integral numbers print without a fraction so ids and ports stay readable.
            if value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The members of an object, or `nil` for any other value.
    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The elements, or `nil` for any other value.
    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The string, or `nil` for any other value.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// A setting read as a flag: `true`/`false`, or the strings `"true"`, `"1"`, `"yes"` (forms send strings).
    public var boolValue: Bool? {
        switch self {
        case .bool(let value): value
        case .string(let text): ["true", "1", "yes", "on"].contains(text.lowercased()) ? true : (["false", "0", "no", "off", ""].contains(text.lowercased()) ? false : nil)
        case .number(let value): value != 0
        default: nil
        }
    }

    /// A scalar as text, the way CRMs write ids and form values: a string as it is, a whole number without
    /// a fraction (`42`, not `42.0`), another finite number in decimal; nil for anything else.
    public var scalarText: String? {
        switch self {
        case .string(let text): text
        case .number(let number) where number.isFinite: number.rounded() == number && abs(number) < 9e15 ? String(Int64(number)) : String(number)
        default: nil
        }
    }

    /// A setting read as a whole number: a JSON number without fraction, or a numeric string.
    public var intValue: Int? {
        switch self {
        case .number(let value): value.rounded() == value && abs(value) < 1e15 ? Int(value) : nil
        case .string(let text): Int(text.trimmingCharacters(in: .whitespaces))
        default: nil
        }
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// Compact JSON text (keys sorted, slashes unescaped) — for storing in a column or a request body.
    /// Non-finite numbers, which JSON cannot hold, are written as `null`.
    public var jsonText: String { JSONText.serialize(self) }

    /// Parses JSON text; nil when it is not JSON.
    public init?(jsonText: some StringProtocol) {
        guard let value = JSONText.parse(jsonText) else { return nil }
        self = value
    }
}

extension JSONValue {
    /// Any encodable value as JSON (for job results and API views built from typed values).
    public init(encoding value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}
