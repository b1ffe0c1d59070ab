import Asterisk
import Foundation
import HummingbirdTesting
import Jobs
import RetailCRM
import Sandbox
import Server
import Storage
import SwitchboardCore
import Telephony
import Testing

@Suite("RetailCRM module registration, account link and managers ↔ extensions")
struct RetailCRMModuleTests {
    static let register = "/api/v1/tenants/alpha/integrations/retailcrm/register"

    static func configure(_ client: any TestClientProtocol, _ world: TestWorld, base: String, key: String = "sandbox-retailcrm-key") async throws {
        let saved = try await client.send(
            .put, "/api/v1/tenants/alpha/integrations/retailcrm", token: world.adminToken,
            json: #"{"enabled":true,"settings":{"base_url":"\#(base)","external_phones":[{"site_code":"shop","phone":"8 (495) 123-45-67"}]},"secrets":{"api_key":"\#(key)"}}"#)
        #expect(saved.status == .ok, "\(saved.text)")
    }

    static func token(_ accountURL: String) -> String {
        String(accountURL.split(separator: "=", maxSplits: 1).last ?? "")
    }

    @Test("registration sends callbacks, extensions and a signed account link; the link works until revoked", arguments: TestBackend.all)
    func registration(backend: TestBackend) async throws {
        let emulator = RetailCRMEmulator()
        try await SandboxServer.withRetailCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let admin = world.adminToken
                try await Self.configure(client, world, base: base)
                try await world.services.stores.managers.replace(
                    tenantID: world.tenantA.tenant.id, integration: .retailcrm, with: [ManagerExtension(crmUserID: "18", extensionNumber: "100")])

                let missing = try await client.send(.post, Self.register, token: admin)
                #expect(missing.status == .badRequest && missing.errorField == "public_url", "\(missing.text)")
                let notAdmin = try await client.send(.post, Self.register, token: world.tenantA.apiTokenPlaintext, json: #"{"public_url":"https://sb.example.com"}"#)
                #expect(notAdmin.status == .forbidden)
                let registered = try await client.send(.post, Self.register, token: admin, json: #"{"public_url":"https://sb.example.com/"}"#)
                #expect(registered.status == .ok, "\(registered.text)")

                let module = try #require(await emulator.module)
                let telephony = module.integrations.telephony
                #expect(module.active && module.code == "switchboard" && module.baseUrl == "https://sb.example.com")
                #expect(telephony.makeCallUrl == "https://sb.example.com/retailcrm/make-call")
                #expect(telephony.changeUserStatusUrl == "https://sb.example.com/retailcrm/status")
                #expect(telephony.additionalCodes == [.init(userId: "18", code: "100")])
                #expect(telephony.externalPhones == [.init(siteCode: "shop", externalPhone: "+74951234567")])
                #expect(module.clientId.hasPrefix("alpha.") && module.clientId.count > 20)
                #expect(!registered.text.contains(module.clientId))
                #expect(module.accountUrl.hasPrefix("https://sb.example.com/retailcrm/account?token="))
                let link = Self.token(module.accountUrl)

                // The account page, in both languages, with the tenant's data escaped.
                let english = try await client.send(.get, "/retailcrm/account?token=\(link)&lang=en")
                #expect(english.status == .ok && english.text.contains("Managers and extensions") && english.text.contains("<td>100</td>"))
                #expect(english.headers[.contentType]?.hasPrefix("text/html") == true)
                let russian = try await client.send(.get, "/retailcrm/account?token=\(link)", headers: [.acceptLanguage: "ru-RU,ru;q=0.9"])
                #expect(russian.text.contains("Менеджеры и добавочные номера") && russian.text.contains("Альфа"))
                #expect(!russian.text.contains("sandbox-retailcrm-key"))

                // The exchange is logged with the key, the clientId and the link masked.
                let logs = try await world.services.stores.logs.list(tenantID: world.tenantA.tenant.id, filter: .init(eventType: "module."))
                #expect(logs.count == 1 && logs.allSatisfy { $0.status == .success }, "\(logs.map(\.eventType))")
                let sent = logs.compactMap(\.requestData).joined()
                #expect(sent.contains("integration-modules/switchboard/edit"))
                #expect(!sent.contains(link) && !sent.contains(module.clientId) && !sent.contains("sandbox-retailcrm-key"))

                // RetailCRM's callbacks now recognise the tenant by the clientId (no PBX here: 409, not 401).
                let call = try await client.send(.get, "/retailcrm/make-call?clientId=\(module.clientId)&userId=18&phone=%2B79161234567")
                #expect(call.status == .conflict && call.errorCode == "pbx_not_configured")

                // Re-registering keeps the clientId and revokes the previous link.
                #expect(try await client.send(.post, Self.register, token: admin).status == .ok)
                let again = try #require(await emulator.module)
                #expect(again.clientId == module.clientId && again.accountUrl != module.accountUrl)
                #expect(try await client.send(.get, "/retailcrm/account?token=\(link)").status == .unauthorized)
                let current = Self.token(again.accountUrl)
                #expect(try await client.send(.get, "/retailcrm/account?token=\(current)").status == .ok)
                for forged in ["abc.def.ghi", current + "x", ""] {
                    #expect(try await client.send(.get, "/retailcrm/account?token=\(forged)").status == .unauthorized)
                }
                // An admin JWT is not an account link.
                #expect(try await client.send(.get, "/retailcrm/account?token=\(admin)").status == .unauthorized)

                // RetailCRM refuses a wrong key: a clear 400, and the registered module keeps working.
                _ = try await world.services.stores.integrations.save(
                    tenantID: world.tenantA.tenant.id, kind: .retailcrm, change: .init(secrets: ["api_key": "wrong-key-123"]))
                let refused = try await client.send(.post, Self.register, token: admin)
                #expect(refused.status == .badRequest && refused.errorCode == "crm_refused", "\(refused.text)")
                #expect(try await client.send(.get, "/retailcrm/account?token=\(current)").status == .ok)
                _ = try await world.services.stores.integrations.save(
                    tenantID: world.tenantA.tenant.id, kind: .retailcrm, change: .init(secrets: ["api_key": "sandbox-retailcrm-key"]))

                // Deactivating: the module goes inactive in RetailCRM and the link dies.
                let off = try await client.send(.delete, Self.register, token: admin)
                #expect(off.status == .ok)
                #expect(await emulator.module?.active == false)
                #expect(try await client.send(.get, "/retailcrm/account?token=\(current)").status == .unauthorized)
                #expect(try await client.send(.delete, Self.register, token: admin).errorCode == "not_registered")
                let other = try await client.send(.post, "/api/v1/tenants/alpha/integrations/bitrix24/register", token: admin)
                #expect(other.status == .badRequest && other.errorField == "kind")
            }
        }
    }

    @Test("managers: CRM users with extensions, RetailCRM's codes imported, conflicts named, saves pushed to RetailCRM")
    func managers() async throws {
        let emulator = RetailCRMEmulator()
        // The account had a module before Switchboard: user 19 already on extension 105.
        await emulator.setModule(RetailCRMTests.module.with(codes: [.init(userId: "19", code: "105")]))
        try await SandboxServer.withRetailCRM(emulator) { base in
            try await TestSupport.withApp(.sqlite) { client, world in
                let (admin, path) = (world.adminToken, "/api/v1/tenants/alpha/managers")
                try await Self.configure(client, world, base: base)
                // A read-only token sees RetailCRM's users but does not make the import (a write).
                let issued = try await client.send(.post, "/api/v1/tenants/alpha/tokens", token: admin, json: #"{"name":"viewer","scope":"read"}"#)
                let reader = try #require(issued.object["token"] as? String)
                let peek = try await client.send(.get, path, token: reader)
                #expect(peek.status == .ok && (peek.object["managers"] as? [[String: Any]])?.count == 3)
                #expect(try await world.services.stores.managers.list(tenantID: world.tenantA.tenant.id, integration: .retailcrm).isEmpty)
                let listed = try await client.send(.get, path, token: world.tenantA.apiTokenPlaintext)
                #expect(listed.status == .ok, "\(listed.text)")
                let managers = try #require(listed.object["managers"] as? [[String: Any]])
                #expect(managers.compactMap { $0["crm_user_id"] as? String } == ["18", "19", "22"])
                #expect(managers.first { $0["crm_user_id"] as? String == "19" }?["extension"] as? String == "105")
                #expect(managers.first { $0["crm_user_id"] as? String == "18" }?["name"] as? String == "Анна Смирнова")
                #expect(listed.object["crm_users_error"] == nil)
                #expect((listed.object["pbx_problem"] as? String)?.contains("no AMI connection") == true)
                let extensions = try #require(listed.object["extensions"] as? [[String: Any]])
                #expect(extensions.contains { $0["number"] as? String == "105" && $0["assigned_to"] as? String == "19" })

                // Conflicts are refused, naming what collides; nothing is changed.
                let clash = try await client.send(
                    .put, path, token: admin, json: #"{"managers":[{"crm_user_id":"18","extension":"100"},{"crm_user_id":"22","extension":"100"}]}"#)
                #expect(clash.status == .conflict && clash.errorField == "extension" && clash.text.contains("18") && clash.text.contains("22"))
                let twice = try await client.send(
                    .put, path, token: admin, json: #"{"managers":[{"crm_user_id":"18","extension":"100"},{"crm_user_id":"18","extension":"101"}]}"#)
                #expect(twice.status == .conflict && twice.errorField == "crm_user_id")
                let badExtension = try await client.send(.put, path, token: admin, json: #"{"managers":[{"crm_user_id":"18","extension":"abc"}]}"#)
                #expect(badExtension.status == .badRequest && badExtension.errorField == "extension")
                #expect(try await client.send(.put, path, token: admin, json: #"{"managers":[],"x":1}"#).errorField == "x")
                #expect(try await client.send(.get, path + "?integration=asterisk", token: admin).errorField == "integration")
                #expect(try await world.services.stores.managers.list(tenantID: world.tenantA.tenant.id, integration: .retailcrm).count == 1)

                // Not registered yet: saved here, RetailCRM not told.
                let saved = try await client.send(
                    .put, path, token: admin, json: #"{"managers":[{"crm_user_id":"18","extension":"100"},{"crm_user_id":"19","extension":"101"},{"crm_user_id":"22","extension":null}]}"#)
                #expect(saved.status == .ok)
                #expect(((saved.object["crm_sync"] as? [String: Any])?["skipped"] as? String)?.contains("not registered") == true)

                // Registered: a save queues one push of additionalCodes, which a worker delivers.
                #expect(try await client.send(.post, Self.register, token: admin, json: #"{"public_url":"https://sb.example.com"}"#).status == .ok)
                #expect(await emulator.module?.integrations.telephony.additionalCodes.map(\.code) == ["100", "101"])
                let body = #"{"managers":[{"crm_user_id":"18","extension":"100"},{"crm_user_id":"22","extension":"102"}]}"#
                let pushed = try await client.send(.put, path, token: admin, json: body)
                let jobID = try #require((pushed.object["crm_sync"] as? [String: Any])?["job_id"] as? String)
                let repeated = try await client.send(.put, path, token: admin, json: body)
                #expect((repeated.object["crm_sync"] as? [String: Any])?["job_id"] as? String == jobID, "the same mapping queues one push")
                try await TestSupport.runWorkers(world) {
                    try await world.services.jobs.find(id: jobID)?.state == .succeeded
                }
                let codes = await emulator.module?.integrations.telephony.additionalCodes ?? []
                #expect(codes == [.init(userId: "18", code: "100"), .init(userId: "22", code: "102")])
            }
        }
    }

    @Test("PBX extensions come from PJSIP endpoints, else from calls; trunks are left out")
    func pbxExtensions() async throws {
        let simulator = PBXSimulator(username: "u", secret: "s3cret-ami", endpoints: ["100", "101", "trunk-mts", "5551234567"])
        try await PBXSimulator.run(simulator) { port in
            try await TestSupport.withApp(.sqlite) { _, world in
                let calls = world.services.stores.calls
                let tenantID = world.tenantA.tenant.id
                let now = Date.storageNow
                try await calls.save(
                    CallRecord(
                        id: Identifiers.newID(), tenantID: tenantID, source: .http, progress: .completed,
                        call: Call(externalID: "c1", direction: .inbound, customerPhone: "+79161234567", extensions: ["101", "104"], startedAt: now, outcome: .answered),
                        createdAt: now, updatedAt: now))
                let parties = PartyClassifier(extensionDigits: 2...5)
                let offline = try await PBXExtensions.list(client: nil, parties: parties, calls: calls, tenantID: tenantID)
                #expect(offline.extensions == [.init(number: "101", source: "calls"), .init(number: "104", source: "calls")])
                #expect(offline.pbxProblem?.contains("no AMI connection") == true)

                let client = AMIClient(configuration: AMIConfiguration(host: "127.0.0.1", port: port, username: "u", secret: "s3cret-ami"), logger: TestSupport.logger)
                let running = Task { await client.run(onEvent: { _ in }) }
                defer { running.cancel() }
                #expect(try await AMIClientTests.eventually { client.state == .connected })
                let live = try await PBXExtensions.list(client: client, parties: parties, calls: calls, tenantID: tenantID)
                #expect(live.extensions.map(\.number) == ["100", "101", "104"])
                #expect(live.extensions.map(\.source) == ["pbx", "pbx", "calls"])
                #expect(live.pbxProblem == nil)
            }
        }
    }
}

extension RetailCRMIntegrationModule {
    /// The same module with other extensions.
    func with(codes: [Telephony.AdditionalCode]) -> RetailCRMIntegrationModule {
        var copy = self
        copy.integrations.telephony.additionalCodes = codes
        return copy
    }
}
