import AmoCRM
import Foundation
import HummingbirdTesting
import Jobs
import People
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

/// Seed 003's people into amoCRM: a lead with its contact in one request, linked to a contact that has the
/// number already, moved by status (won with its pipeline), the contact's phone replaced — exactly once.
@Suite("People API → amoCRM leads")
struct PeopleAmoCRMTests {
    static func person(_ client: any TestClientProtocol, token: String, _ id: String) async throws -> [String: Any] {
        try await client.send(.get, "/api/v1/tenants/alpha/people/\(id)", token: token).object
    }

    static func crm(_ object: [String: Any]) -> [String: Any] { object["crm"] as? [String: Any] ?? [:] }

    @Test("create, link to a known contact, move to won, change the phone; a lost create answer is found by the correlation field", arguments: TestBackend.all)
    func people(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(contacts: 2, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                _ = try await world.services.stores.integrations.save(
                    tenantID: world.tenantA.tenant.id, kind: .amocrm,
                    change: .init(enabled: true, settings: ["base_url": .string(base)], secrets: ["long_lived_token": emulator.accessToken]))
                let settingsPath = "/api/v1/tenants/alpha/people/settings"
                let wrong = try await client.send(.put, settingsPath, token: token, json: #"{"crm":"amocrm"}"#)
                #expect(wrong.status == .badRequest && wrong.errorField == "stages.CONVERTED", "Bitrix24's status ids mean nothing to amoCRM: \(wrong.text)")
                let deal = try await client.send(.put, settingsPath, token: token, json: #"{"crm":"amocrm","entity":"deal"}"#)
                #expect(deal.status == .badRequest && deal.errorField == "entity")
                let saved = try await client.send(
                    .put, settingsPath, token: token,
                    json: #"{"crm":"amocrm","stages":{"NEW":"40166521","IN_PROCESS":"40166524","CONVERTED":"142"},"backoff_seconds":[0,0]}"#)
                #expect(saved.status == .ok && saved.object["closed_status"] as? String == "143", "\(saved.text)")

                let people = "/api/v1/tenants/alpha/people"
                let fresh = try await client.send(.post, people, token: token, json: #"{"full_name":"Анна Новикова","phone":"+79990001122","email":"anna@example.com","stage":"NEW"}"#)
                let freshID = try #require(fresh.object["id"] as? String)
                // Contact 2 of the account has +79160000002: that person is linked, not duplicated.
                let known = try await client.send(.post, people, token: token, json: #"{"full_name":"Мария","phone":"+79160000002","stage":"IN_PROCESS"}"#)
                let knownID = try #require(known.object["id"] as? String)
                try await TestSupport.runWorkers(world) {
                    let states = [try await Self.person(client, token: token, freshID), try await Self.person(client, token: token, knownID)].map { Self.crm($0)["status"] as? String }
                    return states == ["synced", "synced"]
                }
                let freshCRM = Self.crm(try await Self.person(client, token: token, freshID))
                #expect(freshCRM["kind"] as? String == "amocrm" && freshCRM["entity"] as? String == "lead")
                let freshLead = try #require((freshCRM["lead_id"] as? String).flatMap(Int.init))
                let lead = try #require(await emulator.record("leads", id: freshLead))
                #expect(lead["name"] == "Анна Новикова" && lead["status_id"] == 40_166_521)
                let contactID = try #require(lead["_embedded"]?.objectValue?["contacts"]?.arrayValue?.first?.objectValue?["id"]?.intValue)
                #expect(contactID == 3, "a new contact for a new number")
                let knownLead = try #require((Self.crm(try await Self.person(client, token: token, knownID))["lead_id"] as? String).flatMap(Int.init))
                #expect(await emulator.record("leads", id: knownLead)?["_embedded"]?.objectValue?["contacts"]?.arrayValue?.first?.objectValue?["id"] == 2)
                #expect(await emulator.count("contacts") == 3)
                let feed = try await client.send(.get, "/api/v1/tenants/alpha/events?since=0", token: token)
                #expect(feed.text.contains("amocrm_lead_id"), "\(feed.text)")

                // Won: status 142 goes with its pipeline. A new phone replaces the contact's.
                #expect(try await client.send(.post, "\(people)/\(freshID)/move", token: token, json: #"{"stage":"CONVERTED"}"#).status == .ok)
                #expect(try await client.send(.patch, "\(people)/\(freshID)", token: token, json: #"{"phone":"+79990009988"}"#).status == .ok)
                try await TestSupport.runWorkers(world) {
                    let person = try await Self.person(client, token: token, freshID)
                    return Self.crm(person)["status"] as? String == "synced" && person["version"] as? Int == 3
                }
                let won = try #require(await emulator.record("leads", id: freshLead))
                #expect(won["status_id"] == 142 && won["pipeline_id"] == 4_122_859 && won["closed_at"] != .null)
                let phones = await emulator.record("contacts", id: contactID)?["custom_fields_values"]?.arrayValue?
                    .first { $0.objectValue?["field_code"] == "PHONE" }?.objectValue?["values"]?.arrayValue ?? []
                #expect(phones.count == 1 && phones.first?.objectValue?["value"] == "+79990009988", "\(phones)")

                // Someone unlinks the contact in amoCRM: a new phone then gets a new contact, linked as the main one.
                await emulator.userChanged("leads", id: knownLead, ["_embedded": ["contacts": []]])
                #expect(try await client.send(.patch, "\(people)/\(knownID)", token: token, json: #"{"phone":"+79990007766"}"#).status == .ok)
                try await TestSupport.runWorkers(world) {
                    let person = try await Self.person(client, token: token, knownID)
                    return Self.crm(person)["status"] as? String == "synced" && person["version"] as? Int == 2
                }
                let relinked = await emulator.record("leads", id: knownLead)?["_embedded"]?.objectValue?["contacts"]?.arrayValue ?? []
                let newContact = try #require(relinked.first?.objectValue?["id"]?.intValue)
                #expect(relinked.count == 1 && newContact != 2)
                #expect(await emulator.record("contacts", id: newContact)?["custom_fields_values"]?.arrayValue?.first?.objectValue?["values"]?.arrayValue?.first?.objectValue?["value"] == "+79990007766")

                // A worker dies after amoCRM created the lead: the retry finds it by the correlation field.
                let lost = try await client.send(.post, people, token: token, json: #"{"full_name":"Пётр","phone":"+79990004455","stage":"NEW"}"#)
                let lostID = try #require(lost.object["id"] as? String)
                struct Killed: Error {}
                var crashing = PeopleSync(database: world.services.database, secrets: world.services.secrets, bitrix24: world.services.bitrix24, amoCRM: world.services.amoCRM)
                crashing.afterCreate = { _ in throw Killed() }
                await #expect(throws: (any Error).self) { try await crashing.run(tenantID: world.tenantA.tenant.id, personID: lostID, logger: TestSupport.logger) }
                let before = await emulator.count("leads")
                try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, lostID))["status"] as? String == "synced" }
                #expect(await emulator.count("leads") == before, "no second lead")
            }
        }
    }
}
