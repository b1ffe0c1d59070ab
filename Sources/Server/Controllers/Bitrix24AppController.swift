import Access
import Bitrix24
import Foundation
import Hummingbird
import NIOCore
import Storage
import SwitchboardCore

/// Connecting a tenant's portal through a Bitrix24 app (local or marketplace) — the mode that can bind
/// events and use telephony. Three ways the app's tokens arrive, all ending in the token keeper:
///
/// - `POST /api/v1/tenants/{tenant}/integrations/bitrix24/authorize` → the portal's `/oauth/authorize/`
///   address with a one-time `state`; Bitrix24 sends the admin back to
///   `GET /oauth/bitrix24/{tenant}/callback?code=…&state=…`, where the code (valid 30 s) is traded for tokens.
/// - `POST /hooks/bitrix24/{tenant}/install`: the app's install handler, which Bitrix24 opens with
///   `AUTH_ID`/`REFRESH_ID` in a form when the app is installed in the portal.
/// - the `ONAPPINSTALL` event (in `Bitrix24HookController`), which also brings the application token.
///
/// Tokens handed to the public routes are only trusted after the portal configured for the tenant accepted
/// them (`app.info`), so a forged install cannot plant tokens of another portal.
struct Bitrix24AppController {
    let services: AppServices

    /// How long an authorize `state` is accepted.
    static let stateLifetime: TimeInterval = 600

    func register(router: Router<AppRequestContext>, tenant: RouterGroup<AppRequestContext>) {
        tenant.post("integrations/{kind}/authorize", use: authorize)
        router.get("oauth/bitrix24/{tenant}/callback", use: callback)
        router.post("hooks/bitrix24/{tenant}/install", use: install)
    }

    // MARK: authorization-code flow

    @Sendable func authorize(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let kind = try context.parameters.require("kind")
        if kind == IntegrationKind.amocrm.rawValue { return try await AmoCRMAppController(services: services).authorize(tenant: tenant, request: request) }
        guard kind == IntegrationKind.bitrix24.rawValue else {
            throw SwitchboardError.invalid("kind", "only bitrix24 and amocrm integrations are authorized here; '\(kind)' is not", code: "unsupported")
        }
        guard let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .bitrix24) else {
            throw SwitchboardError.notFound("bitrix24 integration")
        }
        guard let portal = integration.settings["portal_url"]?.stringValue, !portal.isEmpty else {
            throw SwitchboardError.invalid("settings.portal_url", "set the portal address first (https://yourcompany.bitrix24.ru)", code: "missing_field")
        }
        let oauth: Bitrix24OAuthClient
        do {
            oauth = try Bitrix24TokenKeeper.oauthClient(integration)
        } catch let failure as JobFailure {
            throw SwitchboardError.invalid("settings.client_id", failure.message, code: "missing_field")
        }
        let state = Identifiers.randomToken(prefix: "b24s_", bytes: 24)
        let expires = Date().addingTimeInterval(Self.stateLifetime)
        var settings = integration.settings
        settings["oauth_state_expires_at"] = .number(expires.timeIntervalSince1970.rounded(.down))
        _ = try await services.stores.integrations.save(
            tenantID: tenant.id, kind: .bitrix24, change: .init(settings: settings, secrets: ["oauth_state": state]))
        let base = services.settings.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        let view: JSONValue = [
            "authorize_url": .string(oauth.authorizeURL(portal: portal, state: state)),
            "redirect_uri": .string((base ?? "") + "/oauth/bitrix24/\(tenant.id)/callback"),
            "install_handler": .string((base ?? "") + "/hooks/bitrix24/\(tenant.id)/install"),
            "expires_at": .string(expires.ISO8601Format()),
        ]
        return try JSONResponse.make(view)
    }

    @Sendable func callback(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        if let error = query.get("error") {
            throw SwitchboardError.invalid("error", "Bitrix24 did not grant access: \(error) \(query.get("error_description") ?? "")")
        }
        guard let code = query.get("code"), !code.isEmpty, code.count < 512 else {
            throw SwitchboardError.invalid("code", "the redirect carries no authorization code")
        }
        let refused = SwitchboardError(.unauthorized, code: "invalid_state", message: "state is missing, wrong or expired; start the connection again", field: "state")
        guard let state = query.get("state"), !state.isEmpty,
            let tenant = try await services.stores.tenants.find(try context.parameters.require("tenant")),
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .bitrix24),
            let expected = integration.secrets["oauth_state"], Identifiers.constantTimeEquals(expected, state),
            let expires = integration.settings["oauth_state_expires_at"]?.intValue, Double(expires) > Date().timeIntervalSince1970
        else { throw refused }
        context.observed.tenantSlug = tenant.slug
        let tokens: Bitrix24Tokens
        do {
            tokens = try await Bitrix24TokenKeeper.oauthClient(integration).exchange(code: code)
        } catch let error as Bitrix24Error {
            throw SwitchboardError(
                error.isRetryable ? .unavailable : .invalidInput, code: "bitrix24_oauth_failed",
                message: "Bitrix24 did not give tokens for this code (\(error)); the code lives 30 s — start the connection again", field: "code")
        }
        try await checkPortal(tokens.clientEndpoint, integration: integration)
        var saved = try await services.bitrix24Tokens.install(tenantID: tenant.id, tokens: tokens)
        var settings = saved.settings
        settings["oauth_state_expires_at"] = nil
        saved = try await services.stores.integrations.save(
            tenantID: tenant.id, kind: .bitrix24, change: .init(settings: settings, secrets: ["oauth_state": nil]))
        context.logger.notice("bitrix24 app authorized", metadata: ["tenant_id": "\(tenant.id)", "member_id": "\(tokens.memberID ?? "")"])
        return page(title: "Bitrix24 connected / Битрикс24 подключён", lines: [
            "Switchboard can now reach \(tokens.domain ?? "the portal") as the app.",
            "Switchboard получил доступ к порталу как приложение.",
            saved.enabled ? "The integration is enabled." : "Enable the integration to start syncing. / Включите интеграцию, чтобы начать синхронизацию.",
        ])
    }

    // MARK: install handler

    @Sendable func install(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try FormURLEncoding.decodeNested(try await Bitrix24HookController.body(request))
        func field(_ name: String) -> String? { form[name]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
        guard let access = field("AUTH_ID") else { throw SwitchboardError.invalid("AUTH_ID", "the install request carries no AUTH_ID") }
        guard let refresh = field("REFRESH_ID") else { throw SwitchboardError.invalid("REFRESH_ID", "the install request carries no REFRESH_ID") }
        let refused = SwitchboardError(.unauthorized, code: "invalid_install", message: "these tokens are not of the portal configured for this tenant", field: "AUTH_ID")
        guard let tenant = try await services.stores.tenants.find(try context.parameters.require("tenant")),
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .bitrix24)
        else { throw refused }
        context.observed.tenantSlug = tenant.slug
        try await services.bitrix24.install(
            .init(
                accessToken: access, refreshToken: refresh, expiresIn: field("AUTH_EXPIRES").flatMap(Double.init), memberID: field("member_id"),
                domain: request.uri.queryParameters.get("DOMAIN"), applicationToken: nil),
            integration: integration, refused: refused)
        context.logger.notice("bitrix24 app installed", metadata: ["tenant_id": "\(tenant.id)"])
        return page(
            title: "Switchboard installed / Switchboard установлен",
            lines: ["The app is installed; Switchboard has its tokens.", "Приложение установлено, Switchboard получил токены."],
            finishInstall: true)
    }

    /// The tokens must be for the portal the tenant configured.
    private func checkPortal(_ clientEndpoint: String, integration: Integration) async throws {
        guard let configured = Bitrix24Access.configuredEndpoint(integration), let a = URL(string: configured)?.host, let b = URL(string: clientEndpoint)?.host,
            a.lowercased() == b.lowercased()
        else {
            throw SwitchboardError.invalid(
                "settings.portal_url", "the app was authorized on \(URL(string: clientEndpoint)?.host ?? clientEndpoint), not on the portal configured for this tenant")
        }
    }

    private func page(title: String, lines: [String], finishInstall: Bool = false) -> Response {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        // Inside the portal the install page must call BX24.installFinish() for Bitrix24 to finish the install.
        let script = finishInstall
            ? "<script src=\"https://api.bitrix24.com/api/v1/\"></script><script>if (window.BX24) { BX24.init(function () { BX24.installFinish(); }); }</script>"
            : ""
        let html = """
            <!doctype html><html><head><meta charset="utf-8"><title>\(escape(title))</title></head>
            <body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto;"><h1>\(escape(title))</h1>
            \(lines.map { "<p>\(escape($0))</p>" }.joined())\(script)</body></html>
            """
        return Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
