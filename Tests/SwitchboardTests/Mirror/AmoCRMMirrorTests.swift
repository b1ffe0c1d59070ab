import Access
import AmoCRM
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Jobs
import Mirror
import SQLKit
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

/// An amoCRM account end to end: OAuth install and single-flight refresh, the mirror (full, incremental,
/// webhook), deletions, the status map and UTM tags, and the seed's compatibility hooks.
@Suite("amoCRM connector and mirror")
struct AmoCRMMirrorTests {
    static func connect(_ client: any TestClientProtocol, token: String, base: String, emulator: AmoCRMEmulator, longLived: Bool = false) async throws {
        let secrets = longLived
            ? #"{"long_lived_token":"\#(emulator.accessToken)","client_secret":"\#(emulator.clientSecret)"}"#
            : #"{"client_secret":"\#(emulator.clientSecret)"}"#
        let put = try await client.send(
            .put, "/api/v1/tenants/alpha/integrations/amocrm", token: token,
            json: #"{"settings":{"base_url":"\#(base)","client_id":"\#(emulator.clientID)","account_id":"\#(emulator.accountID)","oauth_url":"\#(base)/oauth"},"secrets":\#(secrets),"enabled":true}"#)
        #expect(put.status == .ok, "\(put.text)")
    }

    /// Rows of a mirror table as `[column: text]`, by id (NULLs left out).
    static func rows(_ world: TestWorld, _ table: String, where condition: String = "1=1") async throws -> [Int: [String: String]] {
        try await MirrorDatabase.with(tenantID: world.tenantA.tenant.id, main: world.services.database, integrations: world.services.stores.integrations) { mirror in
            let postgres = world.services.database.backend == .postgres
            let rows = try await mirror.database.run { sql in
                postgres
                    ? try await sql.raw("SELECT row_to_json(t)::text AS j FROM \(unsafeRaw: mirror.table(table)) t WHERE \(unsafeRaw: condition)").all()
                    : try await sql.raw("SELECT * FROM \(unsafeRaw: mirror.table(table)) WHERE \(unsafeRaw: condition)").all()
            }
            var result: [Int: [String: String]] = [:]
            for row in rows {
                var values: [String: String] = [:]
                if postgres {
                    for (key, value) in JSONValue(jsonText: try row.decode(column: "j", as: String.self))?.objectValue ?? [:] where value != .null {
                        values[key] = value.scalarText ?? value.jsonText
                    }
                } else {
                    for column in row.allColumns {
                        if let number = try? row.decode(column: column, as: Int64.self) { values[column] = String(number) }
                        else if let number = try? row.decode(column: column, as: Double.self) { values[column] = String(number) }
                        else if let text = try? row.decode(column: column, as: String.self) { values[column] = text }
                    }
                }
                result[Int(values["id"] ?? "0") ?? 0] = values
            }
            return result
        }
    }

    /// A form-encoded delivery, as amoCRM posts it.
    static func post(_ client: any TestClientProtocol, _ uri: String, _ body: String) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-www-form-urlencoded"
        headers[.userAgent] = "amoCRM-Webhooks/3.0"
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    static func sync(_ client: any TestClientProtocol, _ world: TestWorld, token: String, entity: String, mode: String = "full") async throws {
        let started = try await client.send(
            .post, "/api/v1/tenants/alpha/sync/start/\(entity)", token: token, json: #"{"sync_type":"\#(mode)","integration":"amocrm"}"#)
        #expect(started.status == .accepted, "\(started.text)")
        let jobID = try #require(started.object["job_id"] as? String)
        try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: jobID)?.state == .succeeded }
    }

    @Test("OAuth install: authorize → callback stores encrypted tokens; a forged state or referer is refused; 8 concurrent calls on an expired token refresh once", arguments: TestBackend.all)
    func oauth(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 3, contacts: 1, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend, settings: ServerSettings(bcryptCost: 4, publicURL: "https://switchboard.example")) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                try await Self.connect(client, token: token, base: base, emulator: emulator)
                let untested = try await client.send(.post, "/api/v1/tenants/alpha/integrations/amocrm/test", token: token)
                #expect(untested.text.contains("not connected yet"))
                let authorize = try await client.send(.post, "/api/v1/tenants/alpha/integrations/amocrm/authorize", token: token)
                #expect(authorize.status == .ok, "\(authorize.text)")
                let url = try #require(authorize.object["authorize_url"] as? String)
                #expect(url.hasPrefix("\(base)/oauth?") && url.contains("client_id=\(emulator.clientID)"))
                #expect(authorize.object["redirect_uri"] as? String == "https://switchboard.example/oauth/amocrm/\(world.tenantA.tenant.id)/callback")
                let state = try #require(URLComponents(string: url)?.queryItems?.first { $0.name == "state" }?.value)

                let forged = try await client.send(.get, "/oauth/amocrm/alpha/callback?code=\(await emulator.issueCode())&state=nope")
                #expect(forged.status == .unauthorized && forged.errorField == "state")
                let otherAccount = try await client.send(.get, "/oauth/amocrm/alpha/callback?code=\(await emulator.issueCode())&state=\(state)&referer=evil.amocrm.ru")
                #expect(otherAccount.status == .badRequest && otherAccount.errorField == "referer", "\(otherAccount.text)")
                let done = try await client.send(.get, "/oauth/amocrm/alpha/callback?code=\(await emulator.issueCode())&state=\(state)")
                #expect(done.status == .ok && done.object["status"] as? String == "connected", "\(done.text)")
                let replay = try await client.send(.get, "/oauth/amocrm/alpha/callback?code=\(await emulator.issueCode())&state=\(state)")
                #expect(replay.status == .unauthorized, "the state works once")

                let tenantID = world.tenantA.tenant.id
                var integration = try #require(try await world.services.stores.integrations.find(tenantID: tenantID, kind: .amocrm))
                let access = try #require(integration.secrets["access_token"])
                let shown = try await client.send(.get, "/api/v1/tenants/alpha/integrations/amocrm", token: token)
                #expect(!shown.text.contains(access) && !shown.text.contains(integration.secrets["refresh_token"] ?? "-"))
                let tested = try await client.send(.post, "/api/v1/tenants/alpha/integrations/amocrm/test", token: token)
                #expect(tested.object["ok"] as? Bool == true, "\(tested.text)")

                // Every token expires at once; eight calls find it dead together: one refresh, all succeed.
                await emulator.expireAccessTokens()
                let client8 = try world.services.amoCRM.client(integration, event: "test")
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<8 { group.addTask { _ = try await client8.get("/api/v4/account") } }
                    try await group.waitForAll()
                }
                #expect(await emulator.refreshCount == 1)
                #expect(await emulator.reusedRefreshTokens == 0)
                integration = try #require(try await world.services.stores.integrations.find(tenantID: tenantID, kind: .amocrm))
                #expect(integration.secrets["access_token"] != access)
                let logs = try await client.send(.get, "/api/v1/tenants/alpha/logs?integration=amocrm&limit=200", token: token)
                #expect(logs.status == .ok && !logs.text.contains(integration.secrets["access_token"] ?? "-"))

                // Two processes (two keepers) on PostgreSQL: the advisory lock lets one refresh; the other reads it.
                if backend == .postgres {
                    await emulator.expireAccessTokens()
                    var stale = integration.settings
                    stale["token_expires_at"] = 0  // a day has passed
                    _ = try await world.services.stores.integrations.save(tenantID: tenantID, kind: .amocrm, change: .init(settings: stale))
                    let first = AmoCRMTokenKeeper(database: world.services.database, secrets: world.services.secrets)
                    let second = AmoCRMTokenKeeper(database: world.services.database, secrets: world.services.secrets)
                    async let one = first.accessToken(tenantID: tenantID)
                    async let two = second.accessToken(tenantID: tenantID)
                    let (mine, theirs) = try await (one, two)
                    #expect(mine == theirs)
                    let (refreshes, reused) = (await emulator.refreshCount, await emulator.reusedRefreshTokens)
                    #expect(refreshes == 2 && reused == 0)
                }
            }
        }
    }

    @Test("full mirror: typed custom fields with labels, links, phones, statuses once, UTM and status map; within 7 requests/s; incremental picks changes and deletions", arguments: TestBackend.all)
    func fullAndIncremental(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 620, contacts: 40, companies: 7, seed: 4)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                try await Self.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                let badStatus = try await client.send(.put, "/api/v1/tenants/alpha/integrations/amocrm/mapping", token: token, json: #"{"status_map":{"999":"new"}}"#)
                #expect(badStatus.status == .badRequest && badStatus.errorField == "status_map.999", "\(badStatus.text)")
                let badName = try await client.send(.put, "/api/v1/tenants/alpha/integrations/amocrm/mapping", token: token, json: #"{"status_map":{"40166521":"New Stage"}}"#)
                #expect(badName.status == .badRequest && badName.errorField == "status_map.40166521", "\(badName.text)")
                let badField = try await client.send(.put, "/api/v1/tenants/alpha/integrations/amocrm/mapping", token: token, json: #"{"utm_fields":{"777":"utm_source"}}"#)
                #expect(badField.status == .badRequest && badField.errorField == "utm_fields.777", "\(badField.text)")
                let mapping = try await client.send(
                    .put, "/api/v1/tenants/alpha/integrations/amocrm/mapping", token: token,
                    json: #"{"status_map":{"40166521":"contacted","40166524":"presentation","142":"completed"}}"#)
                #expect(mapping.status == .ok, "\(mapping.text)")

                for entity in ["lead", "contact", "company", "pipeline", "status", "user"] { try await Self.sync(client, world, token: token, entity: entity) }
                let (rejected, busiest) = (await emulator.rejectedCount, await emulator.busiestSecond)
                #expect(rejected == 0 && busiest <= 7, "our pace stays within amoCRM's 7 requests/s")
                let leads = try await Self.rows(world, "amocrm_leads")
                #expect(leads.count == 620)
                let lead = try #require(leads[7])
                #expect(lead["name"] == "Сделка #7" && lead["main_contact_id"] == "7" && lead["company_id"] == "7")
                #expect(lead["utm_source"].map { ["google", "yandex", "direct"].contains($0) } == true, "found by the tracking code UTM_SOURCE")
                #expect(lead["cf_123466"] == "501" && lead["cf_123466_label"] == "Квартира", "\(lead)")
                #expect(lead["cf_123465"]?.count == 10, "a date field is a date: \(lead["cf_123465"] ?? "nil")")
                let mapped = leads.values.filter { $0["status_id"] == "40166521" }
                #expect(!mapped.isEmpty && mapped.allSatisfy { $0["internal_status"] == "contacted" })
                #expect(leads.values.filter { $0["status_id"] == "40166527" }.allSatisfy { $0["internal_status"] == nil })
                let statuses = try await Self.rows(world, "amocrm_statuses")
                #expect(statuses.count == 9 && statuses[142]?["pipeline_id"] == nil, "142 and 143 are kept once")
                #expect(try await Self.rows(world, "amocrm_pipelines").count == 2)
                #expect(try await Self.rows(world, "amocrm_users").count == 3)
                #expect(try await Self.rows(world, "amocrm_contacts").count == 40)
                let phones = try await MirrorDatabase.with(tenantID: world.tenantA.tenant.id, main: world.services.database, integrations: world.services.stores.integrations) { mirror in
                    try await mirror.database.run { sql in
                        try await sql.raw("SELECT phone_e164, value_type FROM \(unsafeRaw: mirror.table("amocrm_multifields")) WHERE entity = 'contact' AND field = 'PHONE' ORDER BY entity_id").all()
                    }.map { (try $0.decode(column: "phone_e164", as: String?.self), try $0.decode(column: "value_type", as: String?.self)) }
                }
                #expect(phones.count == 40 && phones.first?.0 == "+79160000001" && phones.first?.1 == "WORK", "phones land in the multi-field table in E.164")

                // A user edits a lead: an incremental run takes it, and nothing else is lost.
                await emulator.userChanged("leads", id: 12, ["name": "Изменённая сделка", "status_id": 40_166_524])
                try await Self.sync(client, world, token: token, entity: "lead", mode: "incremental")
                let changed = try await Self.rows(world, "amocrm_leads", where: "id = 12")
                #expect(changed[12]?["name"] == "Изменённая сделка" && changed[12]?["internal_status"] == "presentation")
                // A lead moved to amoCRM's trash: the next incremental run marks it (with=only_deleted).
                await emulator.userDeleted("leads", id: 13)
                try await Self.sync(client, world, token: token, entity: "lead", mode: "incremental")
                #expect(try await Self.rows(world, "amocrm_leads", where: "id = 13")[13]?["deleted_at"] != nil)
                // A full run finds the rest.
                await emulator.userDeleted("leads", id: 14)
                try await Self.sync(client, world, token: token, entity: "lead")
                #expect(try await Self.rows(world, "amocrm_leads", where: "id = 14")[14]?["deleted_at"] != nil)
                #expect(try await Self.rows(world, "amocrm_leads", where: "deleted_at IS NULL").count == 618)
            }
        }
    }

    @Test("pages by number stay gap-free when records are deleted between pages, and a resumed run finds its place")
    func deletionsBetweenPages() async throws {
        let emulator = AmoCRMEmulator(leads: 1_000, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            let source = AmoCRMMirrorSource(client: AmoCRMClient(baseURL: base, token: emulator.accessToken))
            let entity = try #require(source.entities.first { $0.name == "lead" })
            var seen: [Int64] = []
            var page = try await source.page(entity, afterID: nil, modifiedSince: nil, previousCount: 0)
            seen += page.records.map(\.id)
            // 30 records before the cursor vanish: later pages shift left by more than the overlap.
            for id in stride(from: 10, to: 250, by: 8) { await emulator.userDeleted("leads", id: id) }
            while !page.isLast {
                page = try await source.page(entity, afterID: seen.last, modifiedSince: nil, previousCount: page.records.count)
                seen += page.records.map(\.id)
                if seen.count > 400 && seen.count < 700 { for id in [Int(seen.last! - 3), Int(seen.last! - 100)] { await emulator.userDeleted("leads", id: id) } }
            }
            #expect(Array(seen[250...]) == Array(251...1000).map(Int64.init), "every record after the first page, each once, in order")
            // Another process resumes after id 640 without knowing the page: it seeks and goes on.
            let fresh = AmoCRMMirrorSource(client: AmoCRMClient(baseURL: base, token: emulator.accessToken))
            let resumed = try await fresh.page(entity, afterID: 640, modifiedSince: nil, previousCount: 0)
            #expect(resumed.records.first?.id == 641)
        }
    }

    @Test("webhooks: registered in the account, real form deliveries (and duplicates, stale ones, deletes) applied by re-reading; bad secret 401, malformed 400", arguments: TestBackend.all)
    func webhooks(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 30, contacts: 5, companies: 2, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend, settings: ServerSettings(bcryptCost: 4, publicURL: "http://127.0.0.1:9")) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                try await Self.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                for entity in ["lead", "contact", "company"] { try await Self.sync(client, world, token: token, entity: entity) }
                let registered = try await client.send(.post, "/api/v1/tenants/alpha/integrations/amocrm/webhooks", token: token)
                #expect(registered.status == .ok, "\(registered.text)")
                let secret = try #require(try await world.services.stores.integrations.find(tenantID: world.tenantA.tenant.id, kind: .amocrm)?.secrets["webhook_secret"])
                #expect(!registered.text.contains(secret), "the secret address is not echoed back")

                // The account posts to our (here unreachable) address; each body is replayed to the router.
                await emulator.userChanged("leads", id: 3, ["name": "Первая правка"])
                let won = await emulator.record("leads", id: 3)?["status_id"] == 142 ? 143 : 142
                await emulator.userChanged("leads", id: 3, ["name": "Вторая правка", "status_id": .number(Double(won)), "pipeline_id": 4_122_859])
                await emulator.userDeleted("leads", id: 4)
                await emulator.userChanged("contacts", id: 2, ["name": "Новое имя"])
                await emulator.userChanged("companies", id: 1, ["name": "ООО «Переименована»"])
                await emulator.flushDeliveries()
                let bodies = await emulator.deliveries.map(\.body)
                #expect(bodies.contains { $0.contains("contacts%5Bupdate%5D%5B0%5D%5Btype%5D=company") }, "a company travels as a contact of type company")
                #expect(bodies.count == 6 && bodies.allSatisfy { $0.contains("account%5Bsubdomain%5D=sandbox") })
                #expect(bodies.contains { $0.contains("leads%5Bstatus%5D%5B0%5D%5Bold_status_id%5D") })
                let path = "/hooks/amocrm/\(world.tenantA.tenant.id)/\(secret)"
                // Newest first, then the oldest again (a stale duplicate): the mirror keeps amoCRM's current state.
                for body in bodies.reversed() + [bodies[0]] {
                    let answer = try await Self.post(client, path, body)
                    #expect(answer.status == .ok && answer.object["status"] as? String == "success", "\(answer.text)")
                }
                try await TestSupport.runWorkers(world) {
                    let jobs = try await world.services.jobs.list(.init(tenantID: world.tenantA.tenant.id, kind: MirrorJobs.apply))
                    return !jobs.isEmpty && jobs.allSatisfy { $0.state == .succeeded }
                }
                let lead = try await Self.rows(world, "amocrm_leads", where: "id IN (3, 4)")
                #expect(lead[3]?["name"] == "Вторая правка" && lead[3]?["status_id"] == String(won))
                #expect(lead[4]?["deleted_at"] != nil)
                #expect(try await Self.rows(world, "amocrm_contacts", where: "id = 2")[2]?["name"] == "Новое имя")
                #expect(try await Self.rows(world, "amocrm_companies", where: "id = 1")[1]?["name"] == "ООО «Переименована»")

                let wrong = try await Self.post(client, "/hooks/amocrm/\(world.tenantA.tenant.id)/nope", bodies[0])
                #expect(wrong.status == .unauthorized && wrong.errorField == "secret")
                let malformed = try await Self.post(client, path, "leads[update][0][name]=без+id")
                #expect(malformed.status == .badRequest && malformed.errorField != nil, "\(malformed.text)")
                let unknownTenant = try await Self.post(client, "/hooks/amocrm/nobody/\(secret)", bodies[0])
                #expect(unknownTenant.status == .unauthorized)
                let huge = try await Self.post(client, path, "leads[update][0][id]=1&leads[update][0][name]=" + String(repeating: "x", count: 600_000))
                #expect(huge.status == .contentTooLarge && huge.errorField == "body", "a body over 512 KB is refused: \(huge.status)")
            }
        }
    }

    @Test("seed 004 compatibility: JSON body at /api/webhooks/amo with X-Signature (body or client|account HMAC); health and test endpoints; crm.sync-pipelines job", arguments: [TestBackend.sqlite])
    func seedCompatibility(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 5, contacts: 1, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                try await Self.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                let body = #"{"leads":{"add":[{"id":2,"name":"Новый лид","status_id":40166521,"created_at":1640995200,"custom_fields_values":[{"field_id":123458,"values":[{"value":"google"}]}]}],"update":[],"delete":[]},"contacts":{"add":[],"update":[]}}"#
                func post(_ signature: String, account: String = "\(emulator.accountID)", uuid: String = "test-uuid") async throws -> TestResponse {
                    var headers = HTTPFields()
                    headers[.contentType] = "application/json"
                    headers[HTTPField.Name("X-Account-ID")!] = account
                    headers[HTTPField.Name("X-Client-UUID")!] = uuid
                    headers[HTTPField.Name("X-Signature")!] = signature
                    return try await client.execute(uri: "/api/webhooks/amo", method: .post, headers: headers, body: ByteBuffer(string: body))
                }
                let signed = try await post(Identifiers.hmacSHA256Hex(body, key: emulator.clientSecret))
                #expect(signed.status == .ok && signed.object["events_processed"] as? Int == 1, "\(signed.text)")
                // The seed's header-only signature (replayable with any body) counts only where the tenant turned it on.
                let headerOnly = Identifiers.hmacSHA256Hex("test-uuid|\(emulator.accountID)", key: emulator.clientSecret)
                #expect(try await post(headerOnly).status == .unauthorized)
                _ = try await world.services.stores.integrations.save(
                    tenantID: world.tenantA.tenant.id, kind: .amocrm, change: .init(mergingSettings: ["seed_header_signature": true]))
                #expect(try await post(headerOnly).status == .ok)
                #expect(try await post("test-signature").status == .unauthorized)
                #expect(try await post(Identifiers.hmacSHA256Hex(body, key: emulator.clientSecret), account: "1").status == .unauthorized)
                let health = try await client.send(.get, "/api/webhooks/amo/health")
                #expect(health.status == .ok && health.object["status"] as? String == "healthy" && health.object["database"] as? String == "connected")
                let test = try await client.send(.get, "/api/webhooks/amo/test")
                #expect((test.object["supported_events"] as? [String])?.contains("leads.add") == true)

                let queued = try await client.send(.post, "/api/v1/tenants/alpha/crm/sync-pipelines", token: token)
                #expect(queued.status == .accepted && queued.object["integration"] as? String == "amocrm", "\(queued.text)")
                let jobID = try #require(queued.object["job_id"] as? String)
                try await TestSupport.runWorkers(world) { [JobState.succeeded, .dead].contains(try await world.services.jobs.find(id: jobID)?.state) }
                let job = try #require(try await world.services.jobs.find(id: jobID))
                #expect(job.state == .succeeded, "\(job.lastError ?? "")")
                #expect(try await Self.rows(world, "amocrm_pipelines").count == 2)
                #expect(try await Self.rows(world, "amocrm_leads", where: "id = 2")[2]?["utm_source"] != nil, "the seed hook's apply job re-read lead 2")

                // `crm.sync` through the jobs API: the entity's one live sync, with a job id to follow.
                let posted = try await client.send(
                    .post, "/api/v1/jobs", token: world.adminToken,
                    json: #"{"kind":"crm.sync","tenant":"alpha","payload":{"integration":"amocrm","entity":"user","mode":"full"}}"#)
                #expect(posted.status == .created, "\(posted.text)")
                let syncID = try #require(posted.object["id"] as? String)
                try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: syncID)?.state == .succeeded }
                #expect(try await Self.rows(world, "amocrm_users").count == 3)
            }
        }
    }
}
