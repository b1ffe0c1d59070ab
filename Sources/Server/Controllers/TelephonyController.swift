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
        router.get("telephony/route", use: route)
        router.post("telephony/route", use: route)
    }

    /// The tenant of a PBX token, through the gateway cache.
    private func tenant(token: String?, context: AppRequestContext) async throws -> GatewayCache.Entry {
        guard let token, !token.isEmpty else { throw SwitchboardError.invalid("Token", "Token is required") }
        guard let entry = try await services.gateway.lookup(token: token) else {
            throw SwitchboardError(.unauthorized, code: "invalid_token", message: "unknown PBX token", field: "Token")
        }
        context.observed.tenantSlug = entry.tenant.slug
        return entry
    }

    private func accept(_ kind: SeedCallEvent.Kind, _ request: Request, _ context: AppRequestContext) async throws -> Response {
        let (fields, raw) = try await Self.fields(request, limit: services.settings.maxBodyBytes)
        let entry = try await tenant(token: fields["Token"]?.stringValue, context: context)
        let tenant = entry.tenant
        let event = try SeedCallEvent.parse(kind: kind, fields: fields, timeZone: TimeZone(identifier: tenant.timeZone) ?? .gmt)
        let receipt = try await services.intake.submit(
            .init(event: event, raw: raw, tenant: tenant, crmTargets: entry.crmTargets, parties: PartyClassifier(defaultCountry: tenant.defaultCountry)))
        context.logger.info(
            "pbx event accepted",
            metadata: ["tenant": "\(tenant.slug)", "call": "\(event.uniqueID)", "event": "\(kind.rawValue)", "duplicate": "\(receipt.duplicate)"])
        return try JSONResponse.make(receipt)
    }

    /// Responsible-manager routing for the dialplan: `Token` and `phone` (query, form or JSON) → the
    /// extension of the caller's responsible manager in RetailCRM, within the tenant's time budget
    /// (`routing_budget_ms`, default 1500; a request may ask for less with `budget_ms`). With
    /// `format=text` the answer is just the extension, or an empty body — what Asterisk's `CURL()` wants.
    @Sendable func route(_ request: Request, context: AppRequestContext) async throws -> Response {
        var fields: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { fields[String(name)] = String(value) }
        if request.method == .post, request.headers[.contentType] != nil, request.headers[.contentLength] != "0" {
            for (name, value) in try await Self.fields(request, limit: 64 * 1024).0 { fields[name] = value.stringValue ?? fields[name] }
        }
        let entry = try await tenant(token: fields["Token"] ?? fields["token"], context: context)
        guard let raw = fields["phone"] ?? fields["CallerIDNum"], !raw.isEmpty else { throw SwitchboardError.invalid("phone", "phone is required") }
        guard let phone = PhoneNumber.e164(raw, defaultCountry: entry.tenant.defaultCountry) else {
            throw SwitchboardError.invalid("phone", "'\(raw)' is not a phone number")
        }
        let textFormat = fields["format"] == "text"
        guard entry.crmTargets.contains(.retailcrm),
            let integration = try await services.stores.integrations.find(tenantID: entry.tenant.id, kind: .retailcrm)
        else {
            let none = ResponsibleManagerRouter.Route(source: "none", reason: "no_crm")
            return textFormat ? Self.text("") : try JSONResponse.make(none)
        }
        var budget = integration.settings["routing_budget_ms"]?.intValue ?? 1500
        if let asked = fields["budget_ms"] {
            guard let value = Int(asked), value >= 50 else { throw SwitchboardError.invalid("budget_ms", "budget_ms must be a number of milliseconds, at least 50") }
            budget = min(budget, value)
        }
        let route = await services.routes.route(integration, phone: phone, budget: .milliseconds(min(max(budget, 50), 5000)))
        context.logger.info(
            "route answered", metadata: ["extension": "\(route.extensionNumber ?? "-")", "source": "\(route.source)", "reason": "\(route.reason ?? "-")"])
        return textFormat ? Self.text(route.extensionNumber ?? "") : try JSONResponse.make(route)
    }

    private static func text(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The body as fields: a JSON object, or a form (`Extensions` may repeat, or come as `Extensions[]`).
    static func fields(_ request: Request, limit: Int) async throws -> ([String: JSONValue], String) {
        let raw = String(buffer: try await request.collectBody(limit: limit))
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
