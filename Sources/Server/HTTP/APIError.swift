import Foundation
import Hummingbird
import SwitchboardCore

/// Renders any error as `{"error":{"code","message","field"}}` with a fitting status.
enum APIError {
    struct Body: Encodable {
        struct Detail: Encodable {
            var code: String
            var message: String
            var field: String?
            var requestId: String?
        }
        var error: Detail
    }

    static func status(for kind: SwitchboardError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .invalidInput: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .tooLarge: .contentTooLarge
        case .unavailable: .serviceUnavailable
        case .notImplemented: .notImplemented
        case .internal: .internalServerError
        }
    }

    /// Maps framework errors to our error shape; anything unknown becomes an opaque 500.
    static func normalize(_ error: any Error, requestID: String) -> SwitchboardError {
        switch error {
        case let error as SwitchboardError:
            return error
        case let error as HTTPError:
            let code: String =
                switch error.status {
                case .notFound: "not_found"
                case .contentTooLarge: "body_too_large"
                case .methodNotAllowed: "method_not_allowed"
                case .unsupportedMediaType: "unsupported_media_type"
                default: error.status.code < 500 ? "bad_request" : "server_error"
                }
            let kind: SwitchboardError.Kind =
                switch error.status.code {
                case 401: .unauthorized
                case 403: .forbidden
                case 404: .notFound
                case 409: .conflict
                case 413: .tooLarge
                case 400..<500: .invalidInput
                default: .internal
                }
            let message = error.body ?? error.status.reasonPhrase
            return SwitchboardError(kind, code: code, message: message, field: error.status == .contentTooLarge ? "body" : nil)
        default:
            return SwitchboardError(
                .internal, code: "internal_error", message: "internal error; quote request id \(requestID)")
        }
    }

    static func response(for error: SwitchboardError, requestID: String) -> Response {
        let body = Body(error: .init(code: error.code, message: error.message, field: error.field, requestId: requestID))
        let data = (try? JSONCoding.encoder.encode(body)) ?? Data(#"{"error":{"code":"internal_error"}}"#.utf8)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if error.kind == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return Response(
            status: status(for: error.kind), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
