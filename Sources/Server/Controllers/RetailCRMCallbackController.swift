import Asterisk
import Foundation
import Hummingbird
import Jobs
import NIOCore
import Storage
import SwitchboardCore
import Telephony

/// What RetailCRM calls back: `makeCallUrl` (click-to-call), `changeUserStatusUrl`, and the module's
/// `accountUrl` page. RetailCRM signs nothing, so the module's `clientId` — `<tenant slug>.<random>`,
/// kept in the tenant's `retailcrm` secrets as `client_id` — is the credential of the first two,
/// compared in constant time; the account page takes the signed account link made at registration.
struct RetailCRMCallbackController {
    let services: AppServices

    func register(on router: Router<AppRequestContext>) {
        router.get("retailcrm/make-call", use: makeCall)
        router.post("retailcrm/make-call", use: makeCall)
        router.get("retailcrm/status", use: status)
        router.post("retailcrm/status", use: status)
        router.get("retailcrm/account", use: account)
    }

    /// Query and form parameters together (RetailCRM sends GET queries; POST forms are accepted too).
    private func parameters(_ request: Request) async throws -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in request.uri.queryParameters { result[String(name)] = String(value) }
        if request.method == .post {
            let body = try await request.collectBody(limit: 64 * 1024)
            for (name, value) in try FormURLEncoding.decode(String(buffer: body)) { result[name] = value }
        }
        return result
    }

    private func tenant(clientID: String?) async throws -> (Tenant, Integration) {
        guard let clientID, let dot = clientID.firstIndex(of: ".") else {
            throw SwitchboardError(.unauthorized, code: "invalid_client", message: "clientId is missing or unknown", field: "clientId")
        }
        guard let tenant = try await services.stores.tenants.find(String(clientID[..<dot])),
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .retailcrm), integration.enabled,
            // Before registration made it a secret, `client_id` was a setting: both are honoured.
            let expected = integration.secrets["client_id"] ?? integration.settings["client_id"]?.stringValue,
            Identifiers.constantTimeEquals(expected, clientID)
        else { throw SwitchboardError(.unauthorized, code: "invalid_client", message: "clientId is missing or unknown", field: "clientId") }
        return (tenant, integration)
    }

    /// Click-to-call: the manager's extension rings first, then the PBX dials the customer (AMI `Originate`).
    @Sendable func makeCall(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = try await parameters(request)
        let (tenant, _) = try await tenant(clientID: query["clientId"])
        context.observed.tenantSlug = tenant.slug
        guard let rawPhone = query["phone"], !rawPhone.isEmpty else { throw SwitchboardError.invalid("phone", "phone is required") }
        guard let phone = PhoneNumber.e164(rawPhone, defaultCountry: tenant.defaultCountry) else {
            throw SwitchboardError.invalid("phone", "'\(rawPhone)' is not a phone number")
        }
        var number: String?
        if let code = query["code"], !code.isEmpty {
            guard code.count <= 20, code.allSatisfy({ $0.isASCII && $0.isNumber }) else { throw SwitchboardError.invalid("code", "code must be an extension number") }
            number = code
        } else if let userID = query["userId"], !userID.isEmpty {
            number = try await services.stores.managers.list(tenantID: tenant.id, integration: .retailcrm).first { $0.crmUserID == userID }?.extensionNumber
            guard number != nil else { throw SwitchboardError.invalid("userId", "No extension configured for user \(userID)", code: "unmapped_user") }
        }
        guard let number else { throw SwitchboardError.invalid("userId", "userId or code is required") }
        try await ClickToCall(stores: services.stores, pbx: services.pbx).originate(tenant: tenant, extension: number, phone: phone, source: "retailcrm")
        context.logger.info("click-to-call queued", metadata: ["extension": "\(number)"])
        return try JSONResponse.make(["success": true])
    }

    /// A manager's status changed in RetailCRM (free, busy, break…): logged for the admin.
    @Sendable func status(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = try await parameters(request)
        let (tenant, _) = try await tenant(clientID: query["clientId"])
        context.observed.tenantSlug = tenant.slug
        guard let status = query["status"], !status.isEmpty, status.count <= 50 else { throw SwitchboardError.invalid("status", "status is required") }
        await log(tenant, event: "user_status", ok: true, request: "user \(query["userId"] ?? "?") code \(query["code"] ?? "-") → \(status)", response: nil, started: .now)
        return try JSONResponse.make(["success": true])
    }

    /// The module's "go to account" page: the tenant's RetailCRM connection, manager extensions and
    /// latest calls, read-only, in Russian or English (`lang` or `Accept-Language`). The link is signed,
    /// valid a year, and dies when the module is re-registered or deactivated.
    @Sendable func account(_ request: Request, context: AppRequestContext) async throws -> Response {
        let invalid = SwitchboardError(.unauthorized, code: "invalid_link", message: "this account link is invalid, expired or revoked", field: "token")
        guard let token = request.uri.queryParameters.get("token"), !token.isEmpty, token.count < 4096,
            let link = await services.adminTokens.verifyAccountLink(token), link.crm == "retailcrm",
            let tenant = try await services.stores.tenants.find(link.tenantID),
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .retailcrm),
            let current = integration.secrets["account_token_id"], Identifiers.constantTimeEquals(current, link.tokenID)
        else { throw invalid }
        context.observed.tenantSlug = tenant.slug
        let language = AccountPage.language(query: request.uri.queryParameters.get("lang"), header: request.headers[.acceptLanguage])
        let page = AccountPage(
            tenant: tenant, integration: integration,
            managers: try await services.stores.managers.list(tenantID: tenant.id, integration: .retailcrm),
            calls: try await services.stores.calls.list(.init(tenantID: tenant.id, limit: 20)),
            circuit: await services.breakers.stateName(CircuitBreakers.key(tenantID: tenant.id, integration: "retailcrm")),
            language: language, token: token)
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .init("Referrer-Policy")!: "no-referrer",
                      .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'"],
            body: .init(byteBuffer: ByteBuffer(string: page.html)))
    }

    private func log(_ tenant: Tenant, event: String, ok: Bool, request: String, response: String?, started: ContinuousClock.Instant) async {
        try? await services.stores.logs.append(
            IntegrationLogEntry(
                tenantID: tenant.id, integration: "retailcrm", event: event, ok: ok, request: request, response: response,
                duration: ContinuousClock.now - started))
    }
}
