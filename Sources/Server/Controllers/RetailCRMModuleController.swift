import Foundation
import Hummingbird
import Jobs
import Storage
import SwitchboardCore
import Telephony

/// `POST|DELETE /api/v1/tenants/{tenant}/integrations/retailcrm/register`: registers (or re-registers)
/// Switchboard as the tenant's telephony module in RetailCRM, and deactivates it again.
///
/// Registration makes the module's `clientId` (`<tenant slug>.<random>`, the credential RetailCRM's
/// callbacks carry) unless one exists, signs a fresh one-year account link (which revokes the previous
/// one), stores both as integration secrets, and pushes the module with the current manager
/// extensions. RetailCRM's answer comes back at once, so a wrong key or URL shows up right here.
public struct RetailCRMModuleController: Sendable {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        // `{kind}`, not a literal `retailcrm`: a literal segment would shadow `integrations/{kind}` for that kind.
        tenant.post("integrations/{kind}/register", use: registerModule)
        tenant.delete("integrations/{kind}/register", use: unregisterModule)
    }

    private func requireRetailCRM(_ context: AppRequestContext) throws {
        let kind = try context.parameters.require("kind")
        guard kind == IntegrationKind.retailcrm.rawValue else {
            throw SwitchboardError.invalid("kind", "only a retailcrm integration registers a module; '\(kind)' has none", code: "unsupported")
        }
    }

    struct RegisterBody: StrictBody {
        var publicUrl: String?
        var moduleCode: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case publicUrl = "public_url", moduleCode = "module_code"
        }
    }

    @Sendable func registerModule(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        try context.requireAdminUser(managing: "CRM modules")
        try requireRetailCRM(context)
        let body =
            request.headers[.contentType] == nil ? RegisterBody() : try await request.decodeJSON(RegisterBody.self, limit: services.settings.maxBodyBytes)
        let sent = try await Self.registerModule(tenant: tenant, publicURL: body.publicUrl, moduleCode: body.moduleCode, services: services)
        context.logger.notice("retailcrm module registered", metadata: ["module": "\(sent.objectValue?["code"]?.stringValue ?? "")"])
        let answer: JSONValue = ["registered": true, "module": sent]
        return try JSONResponse.make(answer)
    }

    /// Registers the module for `tenant` (also used by `switchboard demo`); returns what RetailCRM was sent.
    public static func registerModule(tenant: Tenant, publicURL: String?, moduleCode: String?, services: AppServices) async throws -> JSONValue {
        guard var integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .retailcrm) else {
            throw SwitchboardError.notFound("retailcrm integration")
        }
        if let missing = integration.missingFields.first {
            throw SwitchboardError.invalid(missing, "set \(missing) before registering the module", code: "missing_field")
        }
        let publicURL = try RetailCRMModuleRegistration.publicURL(
            publicURL ?? integration.settings["public_url"]?.stringValue ?? services.settings.publicURL)
        let code = try RetailCRMModuleRegistration.moduleCode(moduleCode ?? integration.settings["module_code"]?.stringValue)
        _ = try RetailCRMModuleRegistration.externalPhones(integration.settings["external_phones"])
        let clientID = integration.secrets["client_id"].flatMap { $0.hasPrefix(tenant.slug + ".") ? $0 : nil }
            ?? "\(tenant.slug).\(Identifiers.randomToken(prefix: "", bytes: 12))"
        // A module set up before Switchboard: keep its extensions rather than overwrite them with none.
        do {
            _ = try await RetailCRMModuleRegistration(access: services.retailCRM).importExtensions(integration, moduleCode: code)
        } catch let failure as JobFailure {
            throw SwitchboardError(.unavailable, code: "crm_unavailable", message: "RetailCRM's current extensions could not be read: \(failure.message)")
        }
        let previous = integration
        let tokenID = Identifiers.newID()
        let link = try await services.adminTokens.issueAccountLink(tenantID: tenant.id, crm: "retailcrm", tokenID: tokenID)
        integration.settings["public_url"] = .string(publicURL)
        integration.settings["module_code"] = .string(code)
        integration = try await services.stores.integrations.save(
            tenantID: tenant.id, kind: .retailcrm,
            change: .init(
                settings: integration.settings,
                secrets: ["client_id": clientID, "account_token_id": tokenID, "account_url": "\(publicURL)/retailcrm/account?token=\(link)"]))
        await services.configChanged(tenantID: tenant.id)
        do {
            return try await push(tenant: tenant, active: true, services: services)
        } catch {
            // RetailCRM still holds the previous module: keep its account link and clientId working.
            let restore = ["client_id", "account_token_id", "account_url"].map { ($0, previous.secrets[$0]) }
            _ = try? await services.stores.integrations.save(
                tenantID: tenant.id, kind: .retailcrm,
                change: .init(settings: previous.settings, secrets: Dictionary(uniqueKeysWithValues: restore)))
            await services.configChanged(tenantID: tenant.id)
            throw error
        }
    }

    @Sendable func unregisterModule(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        try context.requireAdminUser(managing: "CRM modules")
        try requireRetailCRM(context)
        guard let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .retailcrm) else {
            throw SwitchboardError.notFound("retailcrm integration")
        }
        guard integration.secrets["client_id"] != nil, integration.secrets["account_url"] != nil else {
            throw SwitchboardError(.conflict, code: "not_registered", message: "the RetailCRM module is not registered")
        }
        let sent = try await Self.push(tenant: tenant, active: false, services: services)
        // The account link dies with the registration; the clientId stays so a later registration keeps it.
        _ = try await services.stores.integrations.save(
            tenantID: tenant.id, kind: .retailcrm, change: .init(secrets: ["account_token_id": nil, "account_url": nil]))
        await services.configChanged(tenantID: tenant.id)
        context.logger.notice("retailcrm module deactivated")
        let answer: JSONValue = ["registered": false, "module": sent]
        return try JSONResponse.make(answer)
    }

    /// Pushes the module now; RetailCRM's refusal or absence becomes a clear error.
    private static func push(tenant: Tenant, active: Bool, services: AppServices) async throws -> JSONValue {
        let registration = RetailCRMModuleRegistration(access: services.retailCRM, defaultPublicURL: services.settings.publicURL)
        do {
            return try await registration.push(tenantID: tenant.id, active: active)
        } catch let failure as JobFailure {
            switch failure {
            case .permanent(let message):
                throw SwitchboardError(.invalidInput, code: "crm_refused", message: "RetailCRM refused the module: \(message)")
            case .retryable(let message, _), .deferred(let message, _):
                throw SwitchboardError(.unavailable, code: "crm_unavailable", message: "RetailCRM could not be reached: \(message)")
            }
        }
    }
}
