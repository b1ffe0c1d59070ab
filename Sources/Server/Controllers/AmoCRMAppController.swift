import Access
import AmoCRM
import Foundation
import Hummingbird
import Jobs
import NIOCore
import Storage
import SwitchboardCore

/// Connecting and setting up a tenant's amoCRM / Kommo account:
///
/// - `POST …/integrations/amocrm/authorize` → amoCRM's consent page with a one-time `state`; amoCRM sends
///   the admin back to `GET /oauth/amocrm/{tenant}/callback?code=…&state=…&referer=…`, where the code
///   (valid 20 minutes) is traded for tokens at the account's own `/oauth2/access_token`.
/// - `POST …/integrations/amocrm/webhooks` → a secret hook address, registered in the account
///   (`POST /api/v4/webhooks`) for lead, contact and company changes.
/// - `PUT …/integrations/amocrm/mapping` → the status map and UTM fields, checked against the account's
///   real pipelines and custom fields before they are saved.
struct AmoCRMAppController {
    let services: AppServices

    static let stateLifetime: TimeInterval = 1200
    /// The webhook events Switchboard subscribes to.
    static let events = [
        "add_lead", "update_lead", "status_lead", "delete_lead", "restore_lead", "add_contact", "update_contact", "delete_contact",
        "add_company", "update_company", "delete_company",
    ]

    func register(router: Router<AppRequestContext>, tenant: RouterGroup<AppRequestContext>) {
        router.get("oauth/amocrm/{tenant}/callback", use: callback)
        // `{kind}`, not `amocrm`: a constant segment would shadow `integrations/{kind}` in the router's trie.
        tenant.post("integrations/{kind}/webhooks", use: registerWebhooks)
        tenant.put("integrations/{kind}/mapping", use: saveMapping)
        tenant.get("integrations/{kind}/mapping", use: mapping)
    }

    /// The tenant's amoCRM integration, for routes only amoCRM has (`{kind}` must be `amocrm`).
    private func integration(_ context: AppRequestContext) async throws -> (Tenant, Integration) {
        let tenant = try context.requireTenant()
        let kind = try context.parameters.require("kind")
        guard kind == IntegrationKind.amocrm.rawValue else {
            throw SwitchboardError.invalid("kind", "only an amocrm integration has this; '\(kind)' has not", code: "unsupported")
        }
        return (tenant, try await integration(tenant))
    }

    private func integration(_ tenant: Tenant) async throws -> Integration {
        guard let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .amocrm) else {
            throw SwitchboardError.notFound("amocrm integration")
        }
        return integration
    }

    private var base: String { (services.settings.publicURL ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/")) }

    /// Where amoCRM sends the admin back: the public URL, else the address this request came to.
    private func redirectBase(_ request: Request) throws -> String {
        if !base.isEmpty { return base }
        guard let host = request.head.authority, !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || ".-:[]".contains($0) }) else {
            throw SwitchboardError.conflict("set the server's public_url: amoCRM needs an absolute address to send the admin back to", field: "public_url")
        }
        return "http://\(host)"
    }

    // MARK: OAuth

    /// Called for `POST …/integrations/amocrm/authorize`.
    func authorize(tenant: Tenant, request: Request) async throws -> Response {
        let integration = try await integration(tenant)
        let redirect = try redirectBase(request) + "/oauth/amocrm/\(tenant.id)/callback"
        var settings = integration.settings
        settings["redirect_uri"] = .string(redirect)
        let oauth: AmoCRMOAuthClient
        do {
            oauth = try AmoCRMTokenKeeper.oauthClient(Integration(
                id: integration.id, tenantID: tenant.id, kind: .amocrm, enabled: integration.enabled, settings: settings, secrets: integration.secrets,
                createdAt: integration.createdAt, updatedAt: integration.updatedAt))
        } catch let failure as JobFailure {
            throw SwitchboardError.invalid("settings.client_id", failure.message, code: "missing_field")
        }
        let state = Identifiers.randomToken(prefix: "amos_", bytes: 24)
        let expires = Date().addingTimeInterval(Self.stateLifetime)
        _ = try await services.stores.integrations.save(
            tenantID: tenant.id, kind: .amocrm,
            change: .init(
                secrets: ["oauth_state": state],
                mergingSettings: ["redirect_uri": .string(redirect), "oauth_state_expires_at": .number(expires.timeIntervalSince1970.rounded(.down))]))
        let consent = integration.settings["oauth_url"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? AmoCRMOAuthClient.defaultAuthorizeURL
        let view: JSONValue = [
            "authorize_url": .string(oauth.authorizeURL(state: state, authorizeURL: consent)), "redirect_uri": .string(redirect),
            "expires_at": .string(expires.ISO8601Format()),
        ]
        return try JSONResponse.make(view)
    }

    @Sendable func callback(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        if let error = query.get("error") { throw SwitchboardError.invalid("error", "amoCRM did not grant access: \(error)") }
        guard let code = query.get("code"), !code.isEmpty, code.count < 4096 else { throw SwitchboardError.invalid("code", "the redirect carries no authorization code") }
        let refused = SwitchboardError(.unauthorized, code: "invalid_state", message: "state is missing, wrong or expired; start the connection again", field: "state")
        guard let state = query.get("state"), !state.isEmpty, let tenant = try await services.stores.tenants.find(try context.parameters.require("tenant")),
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .amocrm),
            let expected = integration.secrets["oauth_state"], Identifiers.constantTimeEquals(expected, state),
            let expires = integration.settings["oauth_state_expires_at"]?.intValue, Double(expires) > Date().timeIntervalSince1970
        else { throw refused }
        context.observed.tenantSlug = tenant.slug
        // The code is traded at the configured account; a `referer` naming another account is refused, so a
        // forged redirect cannot plant another account's tokens.
        if let referer = query.get("referer"), !referer.isEmpty,
            let configured = integration.settings["base_url"]?.stringValue.flatMap({ URL(string: $0)?.host }), configured != referer
        {
            throw SwitchboardError.invalid("referer", "amoCRM sent the admin back from \(referer), not the configured account \(configured)")
        }
        let tokens: AmoCRMTokens
        do {
            tokens = try await AmoCRMTokenKeeper.oauthClient(integration).exchange(code: code)
        } catch let error as AmoCRMError where (400..<500).contains(error.status) && error.status != 429 {
            throw SwitchboardError.invalid("code", "amoCRM refused the authorization code (it lives 20 minutes and works once): \(error.summary)", code: "oauth_refused")
        } catch let error as AmoCRMError {
            throw SwitchboardError(.unavailable, code: "crm_unavailable", message: "amoCRM could not be reached to trade the code: \(error.summary)", field: "code")
        } catch let failure as JobFailure {
            throw SwitchboardError.conflict(failure.message, field: "integration")
        }
        var settings: [String: JSONValue] = ["oauth_state_expires_at": .null]
        if integration.secrets["webhook_secret"] == nil { settings["webhooks_pending"] = true }
        _ = try await services.amoCRMTokens.install(tenantID: tenant.id, tokens: tokens, settings: settings)
        _ = try await services.stores.integrations.save(tenantID: tenant.id, kind: .amocrm, change: .init(secrets: ["oauth_state": nil]))
        context.logger.notice("amocrm connected through OAuth", metadata: ["tenant_id": "\(tenant.id)"])
        let view: JSONValue = ["status": "connected", "tenant": .string(tenant.slug), "expires_at": .string(tokens.expiresAt.ISO8601Format())]
        return try JSONResponse.make(view)
    }

    // MARK: webhooks

    @Sendable func registerWebhooks(_ request: Request, context: AppRequestContext) async throws -> Response {
        var (tenant, integration) = try await integration(context)
        guard !base.isEmpty else {
            throw SwitchboardError.conflict("set the server's public_url first: amoCRM must reach the hook address from the internet", field: "public_url")
        }
        if (integration.secrets["webhook_secret"] ?? "").isEmpty {
            integration = try await services.stores.integrations.save(
                tenantID: tenant.id, kind: .amocrm, change: .init(secrets: ["webhook_secret": Identifiers.randomToken(prefix: "amoh_", bytes: 24)]))
        }
        let destination = base + "/hooks/amocrm/\(tenant.id)/\(integration.secrets["webhook_secret"] ?? "")"
        do {
            let client = try services.amoCRM.client(integration, event: "webhooks.register")
            _ = try await client.send(.POST, "/api/v4/webhooks", body: ["destination": .string(destination), "settings": .array(Self.events.map(JSONValue.string))])
        } catch let failure as JobFailure {
            throw SwitchboardError.conflict(failure.message, field: "integration")
        } catch let error as AmoCRMError {
            throw SwitchboardError(.unavailable, code: "crm_error", message: "amoCRM refused the webhook: \(error.summary)", field: "integration")
        }
        _ = try await services.stores.integrations.save(
            tenantID: tenant.id, kind: .amocrm, change: .init(mergingSettings: ["webhooks_pending": .null, "webhooks_registered_at": .string(Date().ISO8601Format())]))
        let view: JSONValue = ["destination": .string(SecretMask.redact(destination, hiding: [integration.secrets["webhook_secret"] ?? ""])), "events": .array(Self.events.map(JSONValue.string))]
        return try JSONResponse.make(view)
    }

    // MARK: mapping

    @Sendable func mapping(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (_, integration) = try await integration(context)
        let view: JSONValue = [
            "status_map": integration.settings["status_map"] ?? [:], "utm_fields": integration.settings["utm_fields"] ?? [:],
            "suggested_stages": .array(AmoCRMLeadMapping.suggestedStages.map(JSONValue.string)),
        ]
        return try JSONResponse.make(view)
    }

    /// Saves `{status_map?, utm_fields?}` after checking every status id and field against the account.
    @Sendable func saveMapping(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, integration) = try await integration(context)
        let body = try await request.jsonObject(limit: 64 * 1024)
        for key in body.keys where key != "status_map" && key != "utm_fields" {
            throw SwitchboardError.invalid(key, "unknown key; expected status_map and/or utm_fields")
        }
        var settings = integration.settings
        for key in ["status_map", "utm_fields"] where body[key] != nil { settings[key] = body[key] }
        let mapping: AmoCRMLeadMapping
        do {
            mapping = try AmoCRMLeadMapping(settings: settings)
        } catch let error as SwitchboardError {
            // Named as the body names it (`status_map.…`), not as the stored setting.
            var named = error
            named.field = error.field.map { $0.hasPrefix("settings.") ? String($0.dropFirst(9)) : $0 }
            throw named
        }
        let client: AmoCRMClient
        do {
            client = try services.amoCRM.client(integration, event: "mapping.check")
        } catch let failure as JobFailure {
            throw SwitchboardError.conflict(failure.message, field: "integration")
        }
        do {
            let source = AmoCRMMirrorSource(client: client, mapping: mapping)
            let statuses = Set(try await source.statusIDs())
            for id in mapping.statuses.keys.sorted() where !statuses.contains(id) {
                throw SwitchboardError.invalid("status_map.\(id)", "the account has no status \(id); its statuses are \(statuses.sorted().map(String.init).joined(separator: ", "))")
            }
            if !mapping.utmFields.isEmpty {
                var fields: [JSONValue] = []
                try await client.pages("/api/v4/leads/custom_fields", embedded: "custom_fields") { fields += $0 }
                let known = Set(fields.flatMap { field -> [String] in
                    [field.objectValue?["id"]?.scalarText, field.objectValue?["code"]?.stringValue].compactMap { $0 }
                })
                for key in mapping.utmFields.keys.sorted() where !known.contains(key) {
                    throw SwitchboardError.invalid("utm_fields.\(key)", "the account's leads have no custom field with id or code '\(key)'")
                }
            }
        } catch let error as AmoCRMError {
            throw SwitchboardError(.unavailable, code: "crm_error", message: "amoCRM could not be asked: \(error.summary)", field: "integration")
        } catch let failure as JobFailure {
            throw SwitchboardError.conflict(failure.message, field: "integration")
        }
        _ = try await services.stores.integrations.save(
            tenantID: tenant.id, kind: .amocrm, change: .init(mergingSettings: ["status_map": settings["status_map"] ?? .null, "utm_fields": settings["utm_fields"] ?? .null]))
        await services.configChanged(tenantID: tenant.id)
        let view: JSONValue = ["status_map": settings["status_map"] ?? [:], "utm_fields": settings["utm_fields"] ?? [:]]
        return try JSONResponse.make(view)
    }
}
