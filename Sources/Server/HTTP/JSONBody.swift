import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore

/// A request body that names its allowed fields, so unknown fields are refused instead of silently ignored.
public protocol StrictBody: Decodable {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

extension Request {
    /// The whole body, at most `limit` bytes; a larger one is a 413 naming `body`.
    func collectBody(limit: Int) async throws -> ByteBuffer {
        do {
            return try await self.body.collect(upTo: limit)
        } catch {
            throw SwitchboardError(.tooLarge, code: "body_too_large", message: "request body exceeds \(limit) bytes", field: "body")
        }
    }

    /// A JSON object body as ``JSONValue``s, for routes that must tell a `null` from a missing field (PATCH).
    func jsonObject(limit: Int) async throws -> [String: JSONValue] {
        let text = String(buffer: try await collectBody(limit: limit))
        guard !text.isEmpty else { throw SwitchboardError.invalid("body", "a JSON object body is required", code: "empty_body") }
        guard let object = JSONValue(jsonText: text)?.objectValue else {
            throw SwitchboardError.invalid("body", "the body must be a JSON object", code: "malformed_json")
        }
        return object
    }

    /// Reads and decodes a JSON object body, turning every problem into a 4xx naming the field.
    func decodeJSON<Body: StrictBody>(_ type: Body.Type, limit: Int) async throws -> Body {
        try Self.decodeStrict(type, data: Data(buffer: try await collectBody(limit: limit)))
    }

    /// Decodes `data` as a JSON object of `Body`'s fields only, every problem a 4xx naming the field.
    static func decodeStrict<Body: StrictBody>(_ type: Body.Type, data: Data) throws -> Body {
        guard !data.isEmpty else { throw SwitchboardError.invalid("body", "a JSON object body is required", code: "empty_body") }
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            throw SwitchboardError.invalid("body", "the body is not valid JSON", code: "malformed_json")
        }
        guard let members = object as? [String: Any] else {
            throw SwitchboardError.invalid("body", "the body must be a JSON object", code: "malformed_json")
        }
        let allowed = Set(Body.CodingKeys.allCases.map(\.stringValue))
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SwitchboardError.invalid(
                unknown, "unknown field '\(unknown)'; allowed: \(allowed.sorted().joined(separator: ", "))",
                code: "unknown_field")
        }
        do {
            return try JSONDecoder().decode(Body.self, from: data)
        } catch let error as DecodingError {
            throw Self.describe(error)
        }
    }

    static func describe(_ error: DecodingError) -> SwitchboardError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
                .replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let type, let context):
            return .invalid(path(context.codingPath), "must be \(describe(type))", code: "wrong_type")
        case .valueNotFound(let type, let context):
            return .invalid(path(context.codingPath), "must be \(describe(type)), not null", code: "wrong_type")
        case .keyNotFound(let key, let context):
            return .invalid(path(context.codingPath + [key]), "is required", code: "missing_field")
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            return .invalid(field.isEmpty ? "body" : field, context.debugDescription, code: "invalid_value")
        @unknown default:
            return .invalid("body", "the body could not be read", code: "malformed_json")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Double.Type, is Int64.Type: "a number"
        case is [Any].Type: "an array"
        default: type is any Collection.Type ? "an array or object" : "a value of type \(type)"
        }
    }
}

extension Request {
    /// The `limit` query parameter of list routes: 1–500, or nil when absent.
    func limitParameter() throws -> Int? {
        guard let text = uri.queryParameters.get("limit") else { return nil }
        guard let value = Int(text), (1...500).contains(value) else {
            throw SwitchboardError.invalid("limit", "limit must be 1–500")
        }
        return value
    }
}

/// Builds JSON responses with the shared encoder.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONCoding.encoder.encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
