import Bitrix24
import Foundation
import HTTPTypes
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

/// Deal mode: a tenant that sells through a deal pipeline gets a contact and a deal per person.
@Suite("People API → Bitrix24 deals")
struct PeopleDealTests {
    @Test("deal mode: settings checked against the pipeline's stages; a person becomes a contact and a deal in the pipeline, moves its stage, changes its contact; an existing contact is linked", arguments: TestBackend.all)
    func dealMode(backend: TestBackend) async throws {
        try await PeopleTests.withPortal(backend, seed: 33) { client, world, _, emulator, token in
            let settingsPath = "/api/v1/tenants/alpha/people/settings"
            for (body, field) in [
                (#"{"entity":"opportunity"}"#, "entity"),
                (#"{"entity":"deal","deal_category":7,"stages":{"NEW":"C7:NEW"}}"#, "deal_category"),
                (#"{"entity":"deal","deal_category":1,"stages":{"NEW":"NEW"}}"#, "stages.NEW"),
                (#"{"entity":"deal","deal_category":-1}"#, "deal_category"),
            ] {
                let refused = try await client.send(.put, settingsPath, token: token, json: body)
                #expect(refused.status == .badRequest && refused.errorField == field, "\(body) → \(refused.text)")
            }
            let saved = try await client.send(
                .put, settingsPath, token: token,
                json: #"{"entity":"deal","deal_category":1,"stages":{"NEW":"C1:NEW","IN_PROCESS":"C1:PREPARATION","CONVERTED":"C1:WON"},"close_on_delete":true}"#)
            #expect(saved.status == .ok, "\(saved.text)")
            #expect(saved.object["entity"] as? String == "deal" && saved.object["closed_status"] as? String == "C1:LOSE", "a deal is closed as lost")

            let people = "/api/v1/tenants/alpha/people"
            let created = try await client.send(.post, people, token: token, json: #"{"full_name":"Мария Сидорова","phone":"+79990003344","email":"m@example.ru","stage":"NEW","fields":{"OPPORTUNITY":"15000"}}"#)
            let id = try #require(created.object["id"] as? String)
            @Sendable func crm() async throws -> [String: Any] { PeopleTests.crm(try await PeopleTests.person(client, token: token, id)) }
            try await TestSupport.runWorkers(world) { try await crm()["status"] as? String == "synced" }
            let state = try await crm()
            #expect(state["entity"] as? String == "deal" && state["kind"] as? String == "bitrix24.deal")
            let dealID = try #require((state["lead_id"] as? String).flatMap { Int($0) })
            var deal = try #require(await emulator.record(.deal, id: dealID)?.objectValue)
            #expect(deal["CATEGORY_ID"]?.stringValue == "1" && deal["STAGE_ID"]?.stringValue == "C1:NEW" && deal["OPPORTUNITY"]?.stringValue?.hasPrefix("15000") == true)
            #expect(deal["ORIGINATOR_ID"]?.stringValue == "switchboard" && deal["ORIGIN_ID"]?.stringValue == "\(world.tenantA.tenant.id):\(id)")
            let contactID = try #require(deal["CONTACT_ID"]?.stringValue.flatMap { Int($0) })
            var contact = try #require(await emulator.record(.contact, id: contactID)?.objectValue)
            #expect(contact["NAME"]?.stringValue == "Мария Сидорова" && contact["PHONE"]?.arrayValue?.count == 1)
            #expect(await emulator.count(.lead) == 0, "no lead in deal mode")

            // Move → the deal's stage; a new phone → the contact's first phone replaced, not a second one added.
            _ = try await client.send(.post, "\(people)/\(id)/move", token: token, json: #"{"stage":"CONVERTED"}"#)
            try await TestSupport.runWorkers(world) { try await crm()["status"] as? String == "synced" }
            _ = try await client.send(.patch, "\(people)/\(id)", token: token, json: #"{"phone":"+79990003355"}"#)
            try await TestSupport.runWorkers(world) { try await crm()["status"] as? String == "synced" }
            deal = try #require(await emulator.record(.deal, id: dealID)?.objectValue)
            contact = try #require(await emulator.record(.contact, id: contactID)?.objectValue)
            #expect(deal["STAGE_ID"]?.stringValue == "C1:WON")
            let phones = contact["PHONE"]?.arrayValue?.compactMap { $0.objectValue?["VALUE"]?.stringValue }
            #expect(phones == ["+79990003355"])

            // A contact with the phone exists already: the new deal is linked to it.
            let existing = try #require(await emulator.addRecord(entity: .contact, fields: ["NAME": "Пётр", "PHONE": [["VALUE": "+7 999 000-66-77", "VALUE_TYPE": "WORK"]]]))
            let contacts = await emulator.count(.contact)
            let second = try await client.send(.post, people, token: token, json: #"{"full_name":"Пётр Петров","phone":"+79990006677","stage":"IN_PROCESS"}"#)
            let secondID = try #require(second.object["id"] as? String)
            try await TestSupport.runWorkers(world) {
                PeopleTests.crm(try await PeopleTests.person(client, token: token, secondID))["status"] as? String == "synced"
            }
            let secondState = PeopleTests.crm(try await PeopleTests.person(client, token: token, secondID))
            let secondDeal = try #require((secondState["lead_id"] as? String).flatMap { Int($0) })
            let linked = try #require(await emulator.record(.deal, id: secondDeal)?.objectValue)
            #expect(linked["CONTACT_ID"]?.stringValue == String(existing) && linked["STAGE_ID"]?.stringValue == "C1:PREPARATION")
            #expect(await emulator.count(.contact) == contacts, "no second contact")

            // Delete with close_on_delete: the deal is lost.
            #expect(try await client.send(.delete, "\(people)/\(secondID)", token: token).status == .noContent)
            try await TestSupport.runWorkers(world) {
                await emulator.record(.deal, id: secondDeal)?.objectValue?["STAGE_ID"]?.stringValue == "C1:LOSE"
            }
        }
    }
}
