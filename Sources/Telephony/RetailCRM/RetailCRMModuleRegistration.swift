import Access
import Foundation
import Jobs
import RetailCRM
import Storage
import SwitchboardCore

/// The telephony module Switchboard registers in a tenant's RetailCRM (`integration-modules/{code}/edit`):
/// where RetailCRM calls back (`makeCallUrl`, `changeUserStatusUrl`), the "go to account" link, the
/// managers' extensions (`additionalCodes`) and the company numbers per store (`externalPhones`).
///
/// What it needs lives in the tenant's `retailcrm` integration: settings `public_url` (this server as
/// RetailCRM reaches it), `module_code` (default `switchboard`), `external_phones`
/// (`[{"site_code": "shop", "phone": "+7…"}]`); secrets `client_id` and `account_url`, written by
/// registration. The push runs at registration and, as the `retailcrm.module-sync` job, after every
/// change of the manager mapping.
public struct RetailCRMModuleRegistration: Sendable {
    public static let jobKind = "retailcrm.module-sync"
    public static let defaultCode = "switchboard"
    public let access: RetailCRMAccess
    /// The server's own public URL (`SWITCHBOARD_PUBLIC_URL`), for integrations without `public_url`.
    public let defaultPublicURL: String?

    public init(access: RetailCRMAccess, defaultPublicURL: String? = nil) {
        self.access = access
        self.defaultPublicURL = defaultPublicURL
    }

    /// The module for the integration's current settings and manager mapping.
    public static func module(
        _ integration: Integration, managers: [ManagerExtension], active: Bool = true, defaultPublicURL: String? = nil
    ) throws -> RetailCRMIntegrationModule {
        guard let clientID = integration.secrets["client_id"], !clientID.isEmpty, let accountURL = integration.secrets["account_url"] else {
            throw SwitchboardError(.conflict, code: "not_registered", message: "the RetailCRM module is not registered yet; register it first")
        }
        let base = try publicURL(integration.settings["public_url"]?.stringValue ?? defaultPublicURL)
        let code = try moduleCode(integration.settings["module_code"]?.stringValue)
        let telephony = RetailCRMIntegrationModule.Telephony(
            makeCallUrl: base + "/retailcrm/make-call", changeUserStatusUrl: base + "/retailcrm/status",
            additionalCodes: managers.map { .init(userId: $0.crmUserID, code: $0.extensionNumber) },
            externalPhones: try externalPhones(integration.settings["external_phones"]))
        return RetailCRMIntegrationModule(
            code: code, name: "Switchboard", logo: logo, clientId: clientID, baseUrl: base, accountUrl: accountURL, telephony: telephony,
            active: active)
    }

    /// Sends the module to RetailCRM; returns what was sent, secrets masked.
    public func push(tenantID: String, active: Bool = true) async throws -> JSONValue {
        let stores = Stores(access.database, secrets: access.secrets)
        guard let integration = try await stores.integrations.find(tenantID: tenantID, kind: .retailcrm) else {
            throw SwitchboardError.notFound("retailcrm integration")
        }
        let managers = try await stores.managers.list(tenantID: tenantID, integration: .retailcrm)
        let module = try Self.module(integration, managers: managers, active: active, defaultPublicURL: defaultPublicURL)
        let client = access.client(integration, event: "module.register")
        try await access.guarded(tenantID: tenantID, lane: .api) { try await client.editModule(module) }
        // Pushes may overlap (a save during a slow push): whichever lands last must carry the current mapping.
        let now = try await stores.managers.list(tenantID: tenantID, integration: .retailcrm)
        guard now == managers else {
            throw JobFailure.retryable("the manager mapping changed during the push; pushing the new one", retryAfter: .seconds(1))
        }
        return [
            "code": .string(module.code), "active": .bool(module.active), "base_url": .string(module.baseUrl),
            "make_call_url": .string(module.integrations.telephony.makeCallUrl),
            "change_user_status_url": .string(module.integrations.telephony.changeUserStatusUrl ?? ""),
            "additional_codes": .number(Double(module.integrations.telephony.additionalCodes.count)),
            "external_phones": .number(Double(module.integrations.telephony.externalPhones.count)),
        ]
    }

    /// Takes over the extensions already set in the account's module (a tenant moving to Switchboard)
    /// into an empty mapping; returns the imported mapping (empty when there was nothing to take).
    /// Throws when RetailCRM cannot be asked or its list breaks our rules: registering on top would wipe it.
    public func importExtensions(_ integration: Integration, users: [RetailCRMUser] = [], moduleCode: String? = nil) async throws -> [ManagerExtension] {
        let stores = Stores(access.database, secrets: access.secrets)
        guard try await stores.managers.list(tenantID: integration.tenantID, integration: .retailcrm).isEmpty else { return [] }
        let code = try Self.moduleCode(moduleCode ?? integration.settings["module_code"]?.stringValue)
        let client = access.client(integration, event: "module.read")
        guard let codes = try await access.guarded(tenantID: integration.tenantID, lane: .api, { try await client.moduleAdditionalCodes(code: code) }),
            !codes.isEmpty
        else { return [] }
        let names = Dictionary(users.map { (String($0.id), $0.displayName) }) { first, _ in first }
        let mapping = codes.map { ManagerExtension(crmUserID: $0.userId, extensionNumber: $0.code, crmUserName: names[$0.userId]) }
        do {
            try await stores.managers.replace(tenantID: integration.tenantID, integration: .retailcrm, with: mapping)
        } catch let error as SwitchboardError {
            throw SwitchboardError(
                .conflict, code: "crm_extensions_conflict",
                message: "RetailCRM's module lists extensions Switchboard cannot take over (\(error.message)); set the managers here first")
        }
        return mapping
    }

    /// Adds `retailcrm.module-sync` (payload-free; the tenant is the job's) to `registry`.
    public func register(into registry: inout JobRegistry) {
        registry.register(
            Self.jobKind, policy: RetryPolicy(maxAttempts: 8, backoff: .exponential(base: .seconds(5), cap: .seconds(600))), timeout: .seconds(30)
        ) { context in
            guard let tenantID = context.job.tenantID else { throw JobFailure.permanent("\(Self.jobKind) needs a tenant") }
            do {
                return try await push(tenantID: tenantID)
            } catch let error as SwitchboardError {
                throw JobFailure.permanent(error.message)
            }
        }
    }

    /// Queues a push of the module after the manager mapping changed. `revision` identifies the mapping:
    /// saving the same mapping twice queues one push, while a new mapping always gets its own (a push
    /// already running may have read the old one).
    public static func enqueueSync(tenantID: String, revision: String, queue: JobQueue) async throws -> Job {
        try await queue.enqueue(
            JobQueue.NewJob(
                kind: jobKind, tenantID: tenantID, maxAttempts: 8, uniqueKey: "retailcrm-module:\(tenantID):\(revision)")
        ).job
    }

    // MARK: settings

    /// `public_url`: an absolute http(s) URL without a trailing slash.
    public static func publicURL(_ text: String?) throws -> String {
        guard var text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            throw SwitchboardError.invalid(
                "public_url", "public_url is required: the address RetailCRM uses to reach this server, e.g. https://switchboard.example.com",
                code: "missing_field")
        }
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host?.isEmpty == false,
            url.query == nil
        else { throw SwitchboardError.invalid("public_url", "public_url must be an http(s) URL without a query, got '\(text)'") }
        return text
    }

    /// `module_code`: RetailCRM's module code, latin letters, digits, `-` and `_`.
    public static func moduleCode(_ text: String?) throws -> String {
        guard let text, !text.isEmpty else { return defaultCode }
        guard text.count <= 50, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw SwitchboardError.invalid("module_code", "module_code may hold only latin letters, digits, '-' and '_' (at most 50)")
        }
        return text
    }

    /// `external_phones`: `[{"site_code": "shop", "phone": "+74951234567"}]` → RetailCRM's list (phones in E.164).
    public static func externalPhones(_ value: JSONValue?) throws -> [RetailCRMIntegrationModule.Telephony.ExternalPhone] {
        guard let value, value != .null else { return [] }
        guard case .array(let items) = value else {
            throw SwitchboardError.invalid("settings.external_phones", "external_phones must be a list of {site_code, phone}")
        }
        return try items.enumerated().map { index, item in
            let field = "settings.external_phones[\(index)]"
            guard let site = item.objectValue?["site_code"]?.stringValue, !site.isEmpty else {
                throw SwitchboardError.invalid(field + ".site_code", "site_code is required (the RetailCRM store code)")
            }
            guard let raw = item.objectValue?["phone"]?.stringValue, let phone = PhoneNumber.e164(raw, defaultCountry: "RU") else {
                throw SwitchboardError.invalid(field + ".phone", "phone must be a phone number")
            }
            return .init(siteCode: site, externalPhone: phone)
        }
    }

    /// The module's logo in RetailCRM's marketplace list (RetailCRM takes SVG only).
    static let logo =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 64 64\"><rect width=\"64\" height=\"64\" rx=\"14\" fill=\"#2457d6\"/>"
        + "<path d=\"M20 18h8l4 10-5 3a24 24 0 0 0 10 10l3-5 10 4v8c0 2-2 4-4 4C29 52 12 35 12 22c0-2 2-4 4-4z\" fill=\"#fff\"/></svg>"
}
