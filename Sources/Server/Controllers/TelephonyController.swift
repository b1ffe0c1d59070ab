import Foundation
import Hummingbird
import NIOCore
import SwitchboardCore
import Telephony

/// `POST /telephony/events/{start|dial|bridge|hangup|download}` and the seed's bare `/start`, `/dial`,
/// `/bridge`, `/hangup`, `/download`: call events from the dialplan. The body's `Token` is the tenant's
/// PBX token; JSON or form-encoded bodies. The answer comes once the event is committed.
struct TelephonyController {
    let services: AppServices

    func register(on router: Router<AppRequestContext>) {
        for kind in SeedCallEvent.Kind.allCases {
            router.post("telephony/events/\(kind.rawValue)") { request, context in try await accept(kind, request, context) }
            router.post(RouterPath(stringLiteral: kind.rawValue)) { request, context in try await accept(kind, request, context) }
        }
    }

    private func accept(_ kind: SeedCallEvent.Kind, _ request: Request, _ context: AppRequestContext) async throws -> Response {
        let (fields, raw) = try await Self.fields(request, limit: services.settings.maxBodyBytes)
        guard let token = fields["Token"]?.stringValue, !token.isEmpty else { throw SwitchboardError.invalid("Token", "Token is required") }
        guard let tenant = try await services.stores.tenants.find(pbxToken: token) else {
            throw SwitchboardError(.unauthorized, code: "invalid_token", message: "unknown PBX token", field: "Token")
        }
        context.observed.tenantSlug = tenant.slug
        let event = try SeedCallEvent.parse(kind: kind, fields: fields, timeZone: TimeZone(identifier: tenant.timeZone) ?? .gmt)
        let targets = try await services.stores.integrations.enabledKinds(tenantID: tenant.id).filter(CallIntake.callTargets.contains)
        let receipt = try await CallIntake(queue: services.jobs).accept(
            event, raw: raw, tenant: tenant, crmTargets: targets, parties: PartyClassifier(defaultCountry: tenant.defaultCountry))
        context.logger.info(
            "pbx event accepted",
            metadata: ["tenant": "\(tenant.slug)", "call": "\(event.uniqueID)", "event": "\(kind.rawValue)", "duplicate": "\(receipt.duplicate)"])
        return try JSONResponse.make(receipt)
    }

    /// The body as fields: a JSON object, or a form (`Extensions` may repeat, or come as `Extensions[]`).
    static func fields(_ request: Request, limit: Int) async throws -> ([String: JSONValue], String) {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw SwitchboardError(.tooLarge, code: "body_too_large", message: "request body exceeds \(limit) bytes", field: "body")
        }
        let raw = String(buffer: buffer)
        guard !raw.isEmpty else { throw SwitchboardError.invalid("body", "a JSON object body is required", code: "empty_body") }
        if request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
            var fields: [String: JSONValue] = [:]
            var extensions: [JSONValue] = []
            for (name, value) in try FormURLEncoding.decode(raw) {
                if name == "Extensions" || name == "Extensions[]" {
                    extensions += value.split(separator: ",").map { .string(String($0)) }
                } else {
                    fields[name] = .string(value)
                }
            }
            if !extensions.isEmpty { fields["Extensions"] = .array(extensions) }
            return (fields, raw)
        }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(raw.utf8)) else {
            throw SwitchboardError.invalid("body", "the body is not valid JSON", code: "malformed_json")
        }
        guard let object = value.objectValue else { throw SwitchboardError.invalid("body", "the body must be a JSON object", code: "malformed_json") }
        return (object, raw)
    }
}
