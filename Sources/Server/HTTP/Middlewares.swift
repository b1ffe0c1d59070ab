import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SwitchboardCore

/// Outermost middleware: request id, structured access log, metrics, and the JSON error shape for
/// every failure below it.
struct ObservabilityMiddleware: RouterMiddleware {
    let stats: RequestStats

    func handle(
        _ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        let incoming = request.headers[.xRequestID].flatMap { $0.count <= 64 && $0.allSatisfy(Self.isIDCharacter) ? $0 : nil }
        context.requestID = incoming ?? Identifiers.newID()
        context.logger[metadataKey: "request_id"] = .string(context.requestID)
        let started = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let normalized = APIError.normalize(error, requestID: context.requestID)
            if normalized.kind == .internal {
                context.logger.error(
                    // The route pattern, not the path: a hook's path carries its secret (`/hooks/amocrm/{tenant}/{secret}`).
                    "request failed", metadata: ["error": "\(String(reflecting: error))", "route": "\(context.endpointPath ?? "unmatched")"])
            }
            response = APIError.response(for: normalized, requestID: context.requestID)
        }
        response.headers[.xRequestID] = context.requestID
        let duration = ContinuousClock.now - started
        let route = context.endpointPath ?? "unmatched"
        stats.record(
            method: request.method.rawValue, route: route, status: response.status.code, duration: duration,
            tenantSlug: context.observed.tenantSlug)
        var metadata: Logger.Metadata = [
                "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(response.status.code)",
                "duration_ms": "\(duration.wholeMilliseconds)",
            ]
        if let tenant = context.observed.tenantSlug { metadata["tenant"] = .string(tenant) }
        context.logger.info("request", metadata: metadata)
        return response
    }

    private static func isIDCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "-" || character == "_")
    }
}

extension HTTPField.Name {
    static let xRequestID = Self("X-Request-Id")!
}

/// Refuses bodies whose declared length exceeds the limit before reading them.
struct BodyLimitMiddleware: RouterMiddleware {
    let limit: Int

    func handle(
        _ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw SwitchboardError(
                .tooLarge, code: "body_too_large", message: "request body exceeds \(limit) bytes", field: "body")
        }
        return try await next(request, context)
    }
}

/// Reads `Authorization: Bearer …` when present. A present but invalid credential is 401 at once;
/// routes that need a caller check `context.identity` themselves.
struct AuthenticationMiddleware: RouterMiddleware {
    let authenticator: Authenticator

    func handle(
        _ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw SwitchboardError.unauthorized }
        var context = context
        let identity = try await authenticator.authenticate(bearer: String(parts[1]).trimmingCharacters(in: .whitespaces))
        context.identity = identity
        context.logger[metadataKey: "caller"] = .string(identity.logLabel)
        return try await next(request, context)
    }
}
