import Bitrix24
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Jobs
import People
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

/// Seed 003 through the API against the emulated Bitrix24 portal: people → leads, exactly once.
@Suite("People API → Bitrix24 leads")
struct PeopleTests {
    static func connect(_ client: any TestClientProtocol, token: String, base: String) async throws {
        let put = try await client.send(
            .put, "/api/v1/tenants/alpha/integrations/bitrix24", token: token,
            json: #"{"settings":{"portal_url":"\#(base)"},"secrets":{"webhook_url":"\#(base)/rest/1/sandboxwebhookcode/"},"enabled":true}"#)
        #expect(put.status == .ok)
    }

    /// Leads in the portal that carry `person`'s correlation key.
    static func leads(_ base: String, tenantID: String, person: String) async throws -> [[String: JSONValue]] {
        let client = Bitrix24Client(endpoint: .webhook(url: "\(base)/rest/1/sandboxwebhookcode/"))
        let answer = try await client.call(
            "crm.lead.list", ["filter": ["ORIGINATOR_ID": "switchboard", "ORIGIN_ID": .string("\(tenantID):\(person)")], "select": ["*", "PHONE"]])
        return (answer.result.arrayValue ?? []).compactMap(\.objectValue)
    }

    /// The app, with tenant alpha connected (incoming webhook) to an emulated portal whose data `seed` varies.
    static func withPortal(
        _ backend: TestBackend, seed: UInt64,
        _ body: @Sendable (any TestClientProtocol, TestWorld, String, Bitrix24Emulator, String) async throws -> Void
    ) async throws {
        let emulator = Bitrix24Emulator(deals: 5, seed: seed)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                try await connect(client, token: token, base: base)
                try await body(client, world, base, emulator, token)
            }
        }
    }

    static func person(_ client: any TestClientProtocol, token: String, _ id: String) async throws -> [String: Any] {
        try await client.send(.get, "/api/v1/tenants/alpha/people/\(id)", token: token).object
    }

    static func crm(_ object: [String: Any]) -> [String: Any] { object["crm"] as? [String: Any] ?? [:] }

    @Test("the seed's create, update and move reach one lead; 'Missing phone number' is a 400; bad input names the field; the feed replies in order", arguments: TestBackend.all)
    func seedRequests(backend: TestBackend) async throws {
        try await Self.withPortal(backend, seed: 3) { client, world, base, emulator, token in
            let people = "/api/v1/tenants/alpha/people"
            // Seed 003's error case, answered at once.
            let noPhone = try await client.send(.post, people, token: token, json: #"{"full_name":"Пользователь без телефона","stage":"NEW"}"#)
            #expect(noPhone.status == .badRequest && noPhone.errorField == "phone" && noPhone.text.contains("Missing phone number"))
            for (body, field) in [
                (#"{"full_name":"","phone":"+77001112233","stage":"NEW"}"#, "full_name"),
                (#"{"full_name":"A","phone":"not a phone","stage":"NEW"}"#, "phone"),
                (#"{"full_name":"A","phone":"+77001112233","stage":"WON"}"#, "stage"),
                (#"{"full_name":"A","phone":"+77001112233","stage":"NEW","email":"nope"}"#, "email"),
                (#"{"full_name":"A","phone":"+77001112233","stage":"NEW","age":3}"#, "age"),
                (#"{"full_name":"A","phone":"+77001112233","stage":"NEW","fields":{"UF_CRM_1":{"a":1}}}"#, "fields.UF_CRM_1"),
                (#"[1]"#, "body"),
            ] {
                let response = try await client.send(.post, people, token: token, json: body)
                #expect(response.status == .badRequest && response.errorField == field, "\(body) → \(response.text)")
            }

            // 1. Create (the seed's body), 2. update, 3. move.
            let created = try await client.send(
                .post, people, token: token,
                json: #"{"full_name":"Иван Иванов","phone":"+77001112233","stage":"NEW","external_id":"core-1","fields":{"UF_CRM_SOURCE":"core"}}"#)
            #expect(created.status == .created)
            let id = try #require(created.object["id"] as? String)
            #expect(Self.crm(created.object)["status"] as? String == "pending")
            #expect((created.object["fields"] as? [String: Any])?["UF_CRM_SOURCE"] as? String == "core")
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, id))["status"] as? String == "synced" }
            let leadID = try #require(Self.crm(try await Self.person(client, token: token, id))["lead_id"] as? String)
            var leads = try await Self.leads(base, tenantID: world.tenantA.tenant.id, person: id)
            #expect(leads.count == 1 && leads.first?["ID"]?.stringValue == leadID)
            #expect(leads.first?["NAME"]?.stringValue == "Иван Иванов" && leads.first?["STATUS_ID"]?.stringValue == "NEW")

            let updated = try await client.send(
                .patch, "\(people)/\(id)", token: token, json: #"{"full_name":"Иван Петров","phone":"+77001112233","stage":"IN_PROCESS"}"#)
            #expect(updated.status == .ok && updated.object["version"] as? Int == 2)
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, id))["status"] as? String == "synced" }
            let moved = try await client.send(.post, "\(people)/core-1/move", token: token, json: #"{"stage":"CONVERTED"}"#)
            #expect(moved.status == .ok && moved.object["stage"] as? String == "CONVERTED")
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, id))["status"] as? String == "synced" }
            leads = try await Self.leads(base, tenantID: world.tenantA.tenant.id, person: id)
            #expect(leads.count == 1)
            #expect(leads.first?["NAME"]?.stringValue == "Иван Петров" && leads.first?["STATUS_ID"]?.stringValue == "CONVERTED")
            #expect(leads.first?["PHONE"]?.arrayValue?.count == 1, "the phone was not added twice")
            // The move sent only what changed: one crm.lead.add for this person, updates after.
            #expect(await emulator.methodCalls.filter { $0 == "crm.lead.add" }.count == 1)

            // The reply feed: created, synced, updated, synced, moved, synced — in order, with the lead id.
            let feed = try await client.send(.get, "/api/v1/tenants/alpha/events?since=0", token: token)
            let items = try #require(feed.object["items"] as? [[String: Any]])
            #expect(items.map { $0["type"] as? String } == ["created", "crm.synced", "updated", "crm.synced", "moved", "crm.synced"])
            let reply = try #require(items[1]["data"] as? [String: Any])
            #expect(reply["status"] as? String == "success" && reply["action"] as? String == "create_card" && reply["bitrix_lead_id"] as? String == leadID)
            #expect((items[5]["data"] as? [String: Any])?["action"] as? String == "move_card")
            let later = try await client.send(.get, "/api/v1/tenants/alpha/events?since=\(items[3]["seq"] as? Int ?? 0)", token: token)
            #expect((later.object["items"] as? [[String: Any]])?.count == 2)
            let badSince = try await client.send(.get, "/api/v1/tenants/alpha/events?since=x", token: token)
            #expect(badSince.status == .badRequest && badSince.errorField == "since")

            // Listing and filters; tenant B sees nothing of A.
            let list = try await client.send(.get, "\(people)?stage=CONVERTED&sync_status=synced", token: token)
            #expect((list.object["items"] as? [[String: Any]])?.count == 1)
            let other = try await client.send(.get, "/api/v1/tenants/beta/people/\(id)", token: world.tenantB.apiTokenPlaintext)
            #expect(other.status == .notFound)
            let external = try await client.send(.post, people, token: token, json: #"{"full_name":"B","phone":"+77001112244","stage":"NEW","external_id":"core-1"}"#)
            #expect(external.status == .conflict && external.errorField == "external_id")
        }
    }

    @Test("concurrent changes to one person: none undoes another, every version counts, the lead ends with all of them", arguments: TestBackend.all)
    func concurrentChanges(backend: TestBackend) async throws {
        try await Self.withPortal(backend, seed: 7) { client, world, base, emulator, token in
            let created = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Старое","phone":"+79990005566","stage":"NEW"}"#)
            let id = try #require(created.object["id"] as? String)
            let patches = [
                #"{"full_name":"Новое имя"}"#, #"{"email":"new@example.ru"}"#, #"{"external_id":"core-77"}"#, #"{"fields":{"COMMENTS":"из приложения"}}"#,
            ]
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for body in patches {
                    group.addTask { Int(try await client.send(.patch, "/api/v1/tenants/alpha/people/\(id)", token: token, json: body).status.code) }
                }
                group.addTask { Int(try await client.send(.post, "/api/v1/tenants/alpha/people/\(id)/move", token: token, json: #"{"stage":"IN_PROCESS"}"#).status.code) }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 5))
            let person = try await Self.person(client, token: token, id)
            #expect(person["full_name"] as? String == "Новое имя" && person["email"] as? String == "new@example.ru")
            #expect(person["external_id"] as? String == "core-77" && person["stage"] as? String == "IN_PROCESS")
            #expect((person["fields"] as? [String: Any])?["COMMENTS"] as? String == "из приложения" && person["version"] as? Int == 6)
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, id))["status"] as? String == "synced" }
            let leads = try await Self.leads(base, tenantID: world.tenantA.tenant.id, person: id)
            #expect(leads.count == 1)
            let lead = try #require(leads.first)
            #expect(lead["NAME"]?.stringValue == "Новое имя" && lead["STATUS_ID"]?.stringValue == "IN_PROCESS" && lead["COMMENTS"]?.stringValue == "из приложения")
        }
    }

    @Test("Idempotency-Key: the same body returns the same person, another body is a 409", arguments: TestBackend.all)
    func idempotency(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let token = world.tenantA.apiTokenPlaintext
            var headers = HTTPFields()
            headers[HTTPField.Name("Idempotency-Key")!] = "req-42"
            let body = #"{"full_name":"Иван","phone":"8 700 111 22 33","stage":"NEW"}"#
            let first = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: body, headers: headers)
            let second = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: body, headers: headers)
            #expect(first.status == .created && second.status == .ok)
            #expect(first.object["id"] as? String == second.object["id"] as? String)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let different = try await client.send(
                .post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Пётр","phone":"+77001112233","stage":"NEW"}"#, headers: headers)
            #expect(different.status == .conflict && different.errorField == "Idempotency-Key")
            let list = try await client.send(.get, "/api/v1/tenants/alpha/people", token: token)
            #expect((list.object["items"] as? [[String: Any]])?.count == 1)
        }
    }

    @Test("a worker killed after Bitrix24 created the lead but before we recorded it: the retry finds the lead, still one", arguments: TestBackend.all)
    func crashAfterCreate(backend: TestBackend) async throws {
        try await Self.withPortal(backend, seed: 4) { client, world, base, emulator, token in
            let created = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Анна","phone":"+79990001122","stage":"NEW"}"#)
            let id = try #require(created.object["id"] as? String)
            struct Killed: Error {}
            var crashing = PeopleSync(database: world.services.database, secrets: world.services.secrets, bitrix24: world.services.bitrix24, amoCRM: world.services.amoCRM)
            crashing.afterCreate = { _ in throw Killed() }
            await #expect(throws: (any Error).self) {
                try await crashing.run(tenantID: world.tenantA.tenant.id, personID: id, logger: TestSupport.logger)
            }
            #expect(Self.crm(try await Self.person(client, token: token, id))["lead_id"] == nil)
            #expect(try await Self.leads(base, tenantID: world.tenantA.tenant.id, person: id).count == 1)
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, id))["status"] as? String == "synced" }
            let leads = try await Self.leads(base, tenantID: world.tenantA.tenant.id, person: id)
            #expect(leads.count == 1)
            #expect(Self.crm(try await Self.person(client, token: token, id))["lead_id"] as? String == leads.first?["ID"]?.stringValue)
            #expect(await emulator.methodCalls.filter { $0 == "crm.lead.add" }.count == 1)
        }
    }

    @Test("CRM down: retries with the seed's backoff, then success; a refusal fails at once with Bitrix24's message; attempts run out → failed", arguments: TestBackend.all)
    func retriesAndFailures(backend: TestBackend) async throws {
        try await Self.withPortal(backend, seed: 6) { client, world, base, emulator, token in
            let settings = try await client.send(.put, "/api/v1/tenants/alpha/people/settings", token: token, json: #"{"backoff_seconds":[0,0]}"#)
            #expect(settings.status == .ok)
            // Two 503s, then the portal answers: the third attempt succeeds.
            await emulator.failNext(2, status: 503, error: "INTERNAL_SERVER_ERROR", description: "Internal server error")
            let first = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Ок","phone":"+79990002233","stage":"NEW"}"#)
            let okID = try #require(first.object["id"] as? String)
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, okID))["status"] as? String == "synced" }
            #expect(Self.crm(try await Self.person(client, token: token, okID))["attempts"] as? Int == 3)

            // Down for longer than three attempts: failed, with the reason.
            await emulator.failNext(3, status: 503, error: "INTERNAL_SERVER_ERROR", description: "Internal server error")
            let second = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Нет","phone":"+79990003344","stage":"NEW"}"#)
            let downID = try #require(second.object["id"] as? String)
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, downID))["status"] as? String == "failed" }
            let down = Self.crm(try await Self.person(client, token: token, downID))
            #expect(down["attempts"] as? Int == 3 && (down["reason"] as? String ?? "").contains("Internal server error"))

            // A validation error from Bitrix24 (a status the portal does not have): failed after one attempt.
            let third = try await client.send(
                .post, "/api/v1/tenants/alpha/people", token: token,
                json: #"{"full_name":"Плохо","phone":"+79990004455","stage":"NEW","fields":{"CURRENCY_ID":"XXX"}}"#)
            let badID = try #require(third.object["id"] as? String)
            await emulator.failNext(1, status: 400, error: "", description: "Currency XXX is not found")
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, badID))["status"] as? String == "failed" }
            let bad = Self.crm(try await Self.person(client, token: token, badID))
            #expect(bad["attempts"] as? Int == 1 && (bad["reason"] as? String ?? "").contains("Currency XXX is not found"))
            let feed = try await client.send(.get, "/api/v1/tenants/alpha/events?since=0", token: token)
            let failures = (feed.object["items"] as? [[String: Any]] ?? []).filter { $0["type"] as? String == "crm.failed" }
            #expect(failures.count == 2 && (failures.first?["data"] as? [String: Any])?["status"] as? String == "error")

            // A later change tries again (attempts start over) and gets through.
            let retried = try await client.send(.patch, "/api/v1/tenants/alpha/people/\(downID)", token: token, json: #"{"full_name":"Да"}"#)
            #expect(Self.crm(retried.object)["status"] as? String == "pending" && Self.crm(retried.object)["attempts"] as? Int == 0)
            try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, downID))["status"] as? String == "synced" }
        }
    }

    @Test("duplicates: a lead with the phone is taken over, a contact with it is linked; dedup=create always creates; the stage mapping is checked against Bitrix24's statuses", arguments: TestBackend.all)
    func duplicatesAndMapping(backend: TestBackend) async throws {
        let emulator = Bitrix24Emulator(deals: 5, seed: 8)
        let existingLead = try #require(await emulator.addRecord(entity: .lead, fields: ["TITLE": "Старый лид", "PHONE": [["VALUE": "+7 (999) 555-66-77", "VALUE_TYPE": "WORK"]]]))
        let contact = try #require(await emulator.addRecord(entity: .contact, fields: ["NAME": "Клиент", "PHONE": [["VALUE": "89995557788", "VALUE_TYPE": "MOBILE"]]]))
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                let unconnected = try await client.send(.put, "/api/v1/tenants/alpha/people/settings", token: token, json: #"{"stages":{"NEW":"NEW"}}"#)
                #expect(unconnected.status == .conflict && unconnected.errorField == "integration")
                try await Self.connect(client, token: token, base: base)
                let unknown = try await client.send(.put, "/api/v1/tenants/alpha/people/settings", token: token, json: #"{"stages":{"NEW":"NEW","HOT":"NO_SUCH"}}"#)
                #expect(unknown.status == .badRequest && unknown.errorField == "stages.HOT")
                let badPolicy = try await client.send(.put, "/api/v1/tenants/alpha/people/settings", token: token, json: #"{"dedup":"merge"}"#)
                #expect(badPolicy.status == .badRequest && badPolicy.errorField == "dedup")
                let secretShort = try await client.send(.put, "/api/v1/tenants/alpha/people/settings", token: token, json: #"{"callback_secret":"short"}"#)
                #expect(secretShort.status == .badRequest && secretShort.errorField == "callback_secret")
                let mapped = try await client.send(
                    .put, "/api/v1/tenants/alpha/people/settings", token: token,
                    json: #"{"stages":{"NEW":"NEW","HOT":"IN_PROCESS","DONE":"CONVERTED"},"callback_secret":"0123456789abcdef-secret"}"#)
                #expect(mapped.status == .ok && !mapped.text.contains("0123456789abcdef-secret"), "\(mapped.text)")

                let takeOver = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Дубль","phone":"+79995556677","stage":"HOT"}"#)
                let takeOverID = try #require(takeOver.object["id"] as? String)
                let linked = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Связь","phone":"+79995557788","stage":"NEW"}"#)
                let linkedID = try #require(linked.object["id"] as? String)
                try await TestSupport.runWorkers(world) {
                    let first = Self.crm(try await Self.person(client, token: token, takeOverID))["status"] as? String
                    let second = Self.crm(try await Self.person(client, token: token, linkedID))["status"] as? String
                    return first == "synced" && second == "synced"
                }
                #expect(Self.crm(try await Self.person(client, token: token, takeOverID))["lead_id"] as? String == String(existingLead))
                let lead = try #require(await emulator.record(.lead, id: existingLead)?.objectValue)
                #expect(lead["STATUS_ID"]?.stringValue == "IN_PROCESS" && lead["PHONE"]?.arrayValue?.count == 1)
                let newLead = try #require(try await Self.leads(base, tenantID: world.tenantA.tenant.id, person: linkedID).first)
                #expect(newLead["CONTACT_ID"]?.stringValue == String(contact))

                _ = try await client.send(.put, "/api/v1/tenants/alpha/people/settings", token: token, json: #"{"dedup":"create"}"#)
                let again = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Ещё","phone":"+79995556677","stage":"DONE"}"#)
                let againID = try #require(again.object["id"] as? String)
                try await TestSupport.runWorkers(world) { Self.crm(try await Self.person(client, token: token, againID))["status"] as? String == "synced" }
                #expect(Self.crm(try await Self.person(client, token: token, againID))["lead_id"] as? String != String(existingLead))
            }
        }
    }

    @Test("callback signature: HMAC-SHA256 of the exact body, hex, with a sha256= prefix")
    func callbackSignature() {
        // Reference: python3 -c 'import hmac,hashlib; print(hmac.new(b"secret", b"{\"a\":1}", hashlib.sha256).hexdigest())'
        #expect(PeopleCallbacks.signature(body: #"{"a":1}"#, secret: "secret") == "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494")
        #expect(PeopleCallbacks.signature(body: #"{"a":2}"#, secret: "secret") != PeopleCallbacks.signature(body: #"{"a":1}"#, secret: "secret"))
    }
}
