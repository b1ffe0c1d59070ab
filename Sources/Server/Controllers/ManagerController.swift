import AmoCRM
import Foundation
import Hummingbird
import Jobs
import RetailCRM
import Storage
import SwitchboardCore
import Telephony

/// `/api/v1/tenants/{tenant}/managers` (CRM users ↔ PBX extensions) and `/pbx/extensions`.
///
/// `GET` lists the CRM's users with their extensions and the PBX's extensions with who holds them;
/// `PUT` replaces the mapping (unique both ways, a 409 names the conflict) and, for a registered
/// RetailCRM module, queues the push of `additionalCodes`. `?integration=` picks the CRM (default
/// `retailcrm`). The mapping is ours; while it is empty, reading it imports RetailCRM's existing
/// `additionalCodes`, so nothing set up there before Switchboard is lost.
struct ManagerController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("managers", use: list)
        tenant.put("managers", use: replace)
        tenant.get("pbx/extensions", use: extensions)
    }

    struct ManagerRow: Encodable {
        var crmUserId: String
        var name: String?
        var email: String?
        var active: Bool?
        /// False for a mapped user the CRM no longer lists (or when the CRM could not be asked).
        var inCrm: Bool
        var `extension`: String?
    }

    struct ExtensionRow: Encodable {
        var number: String
        var source: String
        var assignedTo: String?
    }

    struct View: Encodable {
        var integration: String
        var managers: [ManagerRow]
        var extensions: [ExtensionRow]
        /// Why the CRM's users could not be listed; the mapping is still shown.
        var crmUsersError: String?
        /// Why the PBX could not list its extensions (they come from calls then).
        var pbxProblem: String?
        /// After a save: the queued push of the mapping to the CRM.
        var crmSync: JSONValue?
    }

    private func integrationKind(_ request: Request) throws -> IntegrationKind {
        let name = request.uri.queryParameters.get("integration") ?? IntegrationKind.retailcrm.rawValue
        guard let kind = IntegrationKind(rawValue: name), kind != .asterisk else {
            throw SwitchboardError.invalid("integration", "integration must be a CRM (bitrix24, amocrm, retailcrm), got '\(name)'")
        }
        return kind
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let kind = try integrationKind(request)
        // Taking RetailCRM's codes over writes the mapping: only for callers who may write.
        let mayWrite = context.identity?.allows(.write) ?? false
        return try JSONResponse.make(try await view(tenant: tenant, kind: kind, importFromCRM: mayWrite))
    }

    struct Entry: Decodable {
        var crmUserId: String
        var `extension`: String?
        var name: String?
        enum CodingKeys: String, CodingKey {
            case crmUserId = "crm_user_id", `extension`, name
        }
    }

    struct ReplaceBody: StrictBody {
        var managers: [Entry]
        enum CodingKeys: String, CodingKey, CaseIterable { case managers }
    }

    @Sendable func replace(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let kind = try integrationKind(request)
        let body = try await request.decodeJSON(ReplaceBody.self, limit: services.settings.maxBodyBytes)
        guard body.managers.count <= 5000 else { throw SwitchboardError.invalid("managers", "at most 5000 managers") }
        let mapping = body.managers.compactMap { entry -> ManagerExtension? in
            guard let number = entry.extension?.trimmingCharacters(in: .whitespaces), !number.isEmpty else { return nil }
            return ManagerExtension(crmUserID: entry.crmUserId.trimmingCharacters(in: .whitespaces), extensionNumber: number, crmUserName: entry.name)
        }
        try await services.stores.managers.replace(tenantID: tenant.id, integration: kind, with: mapping)
        await services.configChanged(tenantID: tenant.id)
        var sync: JSONValue = ["skipped": "this CRM takes no extension list"]
        if kind == .retailcrm {
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .retailcrm)
            if integration?.secrets["account_url"] == nil {
                sync = ["skipped": "the RetailCRM module is not registered; register it to send the extensions"]
            } else {
                let revision = Identifiers.sha256Hex(mapping.map { "\($0.crmUserID)=\($0.extensionNumber)" }.sorted().joined(separator: ","))
                let job = try await RetailCRMModuleRegistration.enqueueSync(tenantID: tenant.id, revision: revision, queue: services.jobs)
                sync = ["job_id": .string(job.id), "state": .string(job.state.rawValue)]
            }
        }
        context.logger.info("manager extensions saved", metadata: ["integration": "\(kind.rawValue)", "count": "\(mapping.count)"])
        var answer = try await view(tenant: tenant, kind: kind, importFromCRM: false)
        answer.crmSync = sync
        return try JSONResponse.make(answer)
    }

    @Sendable func extensions(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let (listed, problem) = try await pbxExtensions(tenant)
        let answer: JSONValue = [
            "items": .array(listed.map { ["number": .string($0.number), "source": .string($0.source)] }),
            "pbx_problem": problem.map(JSONValue.string) ?? .null,
        ]
        return try JSONResponse.make(answer)
    }

    private func pbxExtensions(_ tenant: Tenant) async throws -> (extensions: [PBXExtensions.Listed], pbxProblem: String?) {
        var parties = PartyClassifier(defaultCountry: tenant.defaultCountry)
        if let pbx = try await services.stores.integrations.find(tenantID: tenant.id, kind: .asterisk), let settings = try? PBXSettings(pbx) {
            parties.extensionDigits = settings.extensionDigits
        }
        return try await PBXExtensions.list(
            client: await services.pbx.client(for: tenant.id), parties: parties, calls: services.stores.calls, tenantID: tenant.id)
    }

    private func view(tenant: Tenant, kind: IntegrationKind, importFromCRM: Bool) async throws -> View {
        var mapping = try await services.stores.managers.list(tenantID: tenant.id, integration: kind)
        var rows: [ManagerRow] = []
        var usersError: String?
        let byUser = Dictionary(mapping.map { ($0.crmUserID, $0) }) { first, _ in first }
        if kind == .retailcrm, let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .retailcrm) {
            let client = services.retailCRM.client(integration, event: "users.list", timeout: .seconds(5))
            do {
                let users = try await services.retailCRM.guarded(tenantID: tenant.id, lane: .api) { try await client.allUsers() }
                if importFromCRM, mapping.isEmpty {
                    do {
                        mapping = try await RetailCRMModuleRegistration(access: services.retailCRM).importExtensions(integration, users: users)
                    } catch let error as SwitchboardError {
                        usersError = error.message
                    }
                }
                let imported = Dictionary(mapping.map { ($0.crmUserID, $0) }) { first, _ in first }
                rows = users.map { user in
                    ManagerRow(
                        crmUserId: String(user.id), name: user.displayName, email: user.email, active: user.active, inCrm: true,
                        extension: imported[String(user.id)]?.extensionNumber)
                }
            } catch let failure as JobFailure {
                usersError = failure.message
            } catch let error as SwitchboardError {
                usersError = error.message
            } catch {
                usersError = "RetailCRM's answer could not be read: \(error)"
            }
        } else if kind == .amocrm, let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .amocrm) {
            do {
                var users: [JSONValue] = []
                try await services.amoCRM.client(integration, event: "users.list").pages("/api/v4/users", embedded: "users") { users += $0 }
                rows = users.compactMap(\.objectValue).compactMap { user in
                    guard let id = user["id"]?.scalarText else { return nil }
                    return ManagerRow(
                        crmUserId: id, name: user["name"]?.stringValue, email: user["email"]?.stringValue,
                        active: user["rights"]?.objectValue?["is_active"]?.boolValue, inCrm: true, extension: byUser[id]?.extensionNumber)
                }
            } catch let failure as JobFailure {
                usersError = failure.message
            } catch let error as AmoCRMError {
                usersError = "amoCRM could not list its users: \(error.summary)"
            }
        } else if kind == .bitrix24 {
            usersError = "listing Bitrix24 users arrives with the admin UI; the mapping below is what is stored (user ids from user.get)"
        } else {
            usersError = "the tenant has no \(kind.rawValue) integration"
        }
        let listed = Set(rows.map(\.crmUserId))
        for entry in mapping where !listed.contains(entry.crmUserID) {
            rows.append(ManagerRow(crmUserId: entry.crmUserID, name: entry.crmUserName, inCrm: false, extension: entry.extensionNumber))
        }
        let (pbx, problem) = try await pbxExtensions(tenant)
        let holder = Dictionary(mapping.map { ($0.extensionNumber, $0.crmUserID) }) { first, _ in first }
        var extensions = pbx.map { ExtensionRow(number: $0.number, source: $0.source, assignedTo: holder[$0.number]) }
        for entry in mapping where !extensions.contains(where: { $0.number == entry.extensionNumber }) {
            extensions.append(ExtensionRow(number: entry.extensionNumber, source: "mapping", assignedTo: entry.crmUserID))
        }
        return View(integration: kind.rawValue, managers: rows, extensions: extensions, crmUsersError: usersError, pbxProblem: problem)
    }
}
