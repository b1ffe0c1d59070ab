import Bitrix24
import Foundation
import HTTPTypes
import Hummingbird
import Mirror
import People
import SQLKit
import Sandbox
import Server
import Storage
import SwitchboardCore
import Synchronization
import Testing

/// People in bulk: calls shared in `batch` requests, the reply callback on the wire, our own leads coming
/// back through the mirror without echoing.
@Suite("People API in bulk, callbacks, loop guard")
struct PeopleBurstTests {
    @Test("concurrent single calls travel together in batch requests; each caller gets its own answer or error; unbatchable calls go alone")
    func coalescedCalls() async throws {
        let emulator = Bitrix24Emulator(seed: 21)
        try await SandboxServer.withBitrix24(emulator) { base in
            let coalescer = Bitrix24Coalescer()
            let client = Bitrix24Client(endpoint: .webhook(url: "\(base)/rest/1/sandboxwebhookcode/")).coalescing(through: coalescer)
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for n in 0..<60 {
                    group.addTask {
                        let answer = try await client.call("crm.lead.add", ["fields": ["TITLE": .string("Лид \(n)"), "ORIGIN_ID": .string("n\(n)")]])
                        return answer.result.scalarText
                    }
                }
                var ids: [String] = []
                for try await id in group { ids.append(try #require(id)) }
                return ids
            }
            let (leads, requests) = (await emulator.count(.lead), await emulator.requestCount)
            #expect(Set(ids).count == 60 && leads == 60)
            #expect(await coalescer.calls == 60)
            #expect(requests <= 6, "60 adds should need a handful of requests, took \(requests)")
            #expect(await emulator.methodCalls.contains("batch"))

            // One bad command fails alone; its neighbours in the same batch succeed.
            async let good = client.call("crm.lead.get", ["id": .string(ids[0])])
            async let bad: Bitrix24Error? = {
                do { _ = try await client.call("crm.lead.update", ["id": "999999", "fields": ["TITLE": "x"]]) } catch let error as Bitrix24Error { return error }
                return nil
            }()
            async let good2 = client.call("crm.lead.get", ["id": .string(ids[1])])
            #expect(try await good.result.objectValue?["ID"]?.stringValue == ids[0])
            #expect(try await good2.result.objectValue?["ID"]?.stringValue == ids[1])
            let failure = try #require(try await bad)
            #expect(failure.message == "Not found" && failure.status == 400)

            // A null (clears a field in JSON) or a `$result[…]` text cannot ride in a batch command.
            #expect(!Bitrix24Coalescer.canBatch("crm.lead.update", ["id": "1", "fields": ["COMMENTS": .null]]))
            #expect(!Bitrix24Coalescer.canBatch("crm.lead.add", ["fields": ["TITLE": "$result[c0]"]]))
            #expect(!Bitrix24Coalescer.canBatch("crm.lead.list", ["filter": [:]]))
            #expect(Bitrix24Coalescer.canBatch("crm.lead.add", ["fields": ["TITLE": "Иван", "PHONE": [["VALUE": "+79990001122"]]]]))
            let before = await emulator.requestCount
            _ = try await client.call("crm.lead.update", ["id": .string(ids[2]), "fields": ["COMMENTS": .null, "TITLE": "Новое"]])
            #expect(await emulator.requestCount == before + 1)
            #expect(await emulator.record(.lead, id: Int(ids[2])!)?.objectValue?["TITLE"]?.stringValue == "Новое")
        }
    }

    @Test("a burst of 120 creates: every person in step with one lead of its own, in a fraction of the requests; the mirror sees our leads as ours and nothing echoes back", arguments: TestBackend.all)
    func burst(backend: TestBackend) async throws {
        try await PeopleTests.withPortal(backend, seed: 31) { client, world, base, emulator, token in
            let tenantID = world.tenantA.tenant.id
            var ids: [String] = []
            for n in 0..<120 {
                let created = try await client.send(
                    .post, "/api/v1/tenants/alpha/people", token: token,
                    json: #"{"full_name":"Клиент \#(n)","phone":"+7916\#(String(format: "%07d", n))","stage":"NEW","external_id":"b-\#(n)"}"#)
                #expect(created.status == .created)
                ids.append(try #require(created.object["id"] as? String))
            }
            let people = PersonRepository(world.services.database)
            try await TestSupport.runWorkers(world) { try await people.countSynced(tenantID: tenantID) == 120 }
            #expect(await emulator.count(.lead) == 120)
            var leadIDs: Set<String> = []
            for id in ids {
                let person = try #require(try await people.find(tenantID: tenantID, id: id))
                leadIDs.insert(try #require(person.crm.leadID))
                #expect(person.version == 1 && person.crm.attempts == 1)
            }
            #expect(leadIDs.count == 120, "one lead per person")
            // 120 × (findbycomm + add) alone would be 240 requests.
            let requests = await emulator.requestCount
            #expect(requests < 60, "took \(requests) requests")
            #expect(await emulator.methodCalls.filter { $0 == "crm.lead.add" }.count == 120)

            // Loop guard: the leads come back through the mirror marked as ours, and the app hears nothing of it.
            let feedBefore = try await PeopleFeedRepository(world.services.database).list(tenantID: tenantID, since: 0, limit: 1000).count
            let started = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/lead", token: token, json: #"{"sync_type":"full"}"#)
            let jobID = try #require(started.object["job_id"] as? String)
            try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: jobID)?.state == .succeeded }
            let ours = try await MirrorDatabase.with(tenantID: tenantID, main: world.services.database, integrations: world.services.stores.integrations) { mirror in
                let statement = "SELECT COUNT(*) AS n FROM \(mirror.table("bitrix24_leads")) WHERE originator_id = 'switchboard'"
                return try await mirror.database.run {
                    try await $0.raw(SQLQueryString(statement)).first()?.decode(column: "n", as: Int.self)
                }
            }
            #expect(ours == 120)
            #expect(try await PeopleFeedRepository(world.services.database).list(tenantID: tenantID, since: 0, limit: 1000).count == feedBefore)
            #expect(try await people.find(tenantID: tenantID, id: ids[0])?.version == 1)
        }
    }

    @Test("requests racing with one Idempotency-Key make one person: the winner answers 201, the others replay it; a racing other body is a 409 on the key, not on external_id", arguments: TestBackend.all)
    func idempotencyRace(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let token = world.tenantA.apiTokenPlaintext
            let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "race-1"]
            let same = #"{"full_name":"Гонка","phone":"+79990001100","stage":"NEW"}"#
            let other = #"{"full_name":"Другой","phone":"+79990001101","stage":"NEW"}"#
            let answers = try await withThrowingTaskGroup(of: (String, Int, String?, String?).self) { group in
                for n in 0..<8 {
                    let body = n == 7 ? other : same
                    group.addTask {
                        let response = try await client.send(.post, "/api/v1/tenants/alpha/people", token: token, json: body, headers: headers)
                        return (body, Int(response.status.code), response.object["id"] as? String, response.errorField)
                    }
                }
                var all: [(String, Int, String?, String?)] = []
                for try await answer in group { all.append(answer) }
                return all
            }
            let list = try await client.send(.get, "/api/v1/tenants/alpha/people", token: token)
            let items = try #require(list.object["items"] as? [[String: Any]])
            #expect(items.count == 1, "one person for one key")
            let winner = try #require(items.first?["id"] as? String)
            // Whichever body came first owns the key (usually one of the seven alike, sometimes the other one).
            let winningBody = try #require(answers.first { $0.1 == 201 }?.0)
            for (body, status, id, field) in answers {
                if status == 409 {
                    #expect(field == "Idempotency-Key" && body != winningBody)
                } else {
                    #expect((status == 201 || status == 200) && id == winner && body == winningBody, "\(status) \(body)")
                }
            }
            #expect(answers.filter { $0.1 == 409 }.count == (winningBody == same ? 1 : 7))
            #expect(answers.filter { $0.1 == 201 }.count <= 1)
        }
    }

    @Test("the reply callback reaches a live receiver signed with the tenant's secret, and is retried until it answers 2xx")
    func callbackDelivery() async throws {
        let received = Mutex<[(headers: [String: String], body: String)]>([])
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            // The app is down for the first delivery.
            let count = received.withLock { list in list.append((headers, body)); return list.count }
            return count == 1 ? .internalServerError : .ok
        }
        try await SandboxServer.runOnLoopback(router: router, serverName: "app", port: 0) { hook in
            try await PeopleTests.withPortal(.sqlite, seed: 32) { client, world, _, _, token in
                let secret = "app-callback-secret-0123456789"
                let settings = try await client.send(
                    .put, "/api/v1/tenants/alpha/people/settings", token: token,
                    json: #"{"callback_url":"\#(hook)/hook","callback_secret":"\#(secret)"}"#)
                #expect(settings.status == .ok)
                #expect(!settings.text.contains(secret), "the secret is masked")
                let created = try await client.send(
                    .post, "/api/v1/tenants/alpha/people", token: token, json: #"{"full_name":"Ольга","phone":"+79990007788","stage":"NEW"}"#)
                let id = try #require(created.object["id"] as? String)
                try await TestSupport.runWorkers(world) { received.withLock { $0.count } >= 2 }
                let deliveries = received.withLock { $0 }
                #expect(deliveries.count == 2 && deliveries[0].body == deliveries[1].body, "the failed delivery was repeated as it was")
                let last = try #require(deliveries.last)
                #expect(last.headers["x-switchboard-signature"] == PeopleCallbacks.signature(body: last.body, secret: secret))
                #expect(last.headers["x-switchboard-event"] == "crm.synced")
                let body = try #require(JSONValue(jsonText: last.body)?.objectValue)
                #expect(body["status"] == "success" && body["type"] == "crm.synced")
                #expect(body["user"]?.objectValue?["id"]?.stringValue == id)
                #expect(body["bitrix_lead_id"]?.stringValue != nil)
            }
        }
    }
}
