import Bitrix24
import Foundation
import Hummingbird
import HummingbirdTesting
import Jobs
import Mirror
import SQLKit
import Sandbox
import Server
import ServiceLifecycle
import Storage
import SwitchboardCore
import Testing

/// The Bitrix24 mirror end to end: the real client over HTTP against the Sandbox emulator (real
/// limits: 2 requests/s, burst 50), into SQLite and PostgreSQL.
@Suite("Bitrix24 mirror")
struct Bitrix24MirrorTests {
    /// A mirror sync of the tenant's portal, paced by our limiter as production is.
    static func withSync(
        _ backend: TestBackend, emulator: Bitrix24Emulator, _ body: @Sendable (MirrorSync, String) async throws -> Void
    ) async throws {
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withDatabase(backend) { database in
                let tenant = try await TenantProvisioning.create(database: database, secrets: TestSupport.secrets, slug: "b24", name: "B24")
                let limiter = RateLimiter()
                let client = Bitrix24Client(
                    endpoint: .webhook(url: "\(base)/rest/1/sandboxwebhookcode/"),
                    beforeRequest: { try await limiter.acquire("bitrix24:test", limit: .bitrix24) })
                try await MirrorDatabase.with(tenantID: tenant.tenant.id, main: database, integrations: IntegrationRepository(database, secrets: TestSupport.secrets)) { mirror in
                    let sync = MirrorSync(
                        source: Bitrix24MirrorSource(client: client), mirror: mirror, states: SyncStateRepository(database),
                        tenantID: tenant.tenant.id, logger: TestSupport.logger)
                    try await body(sync, base)
                }
            }
        }
    }

    static func value<T: Decodable>(_ sync: MirrorSync, _ sql: String, _ column: String = "v", as type: T.Type = Int.self) async throws -> T? {
        var text = sql
        for table in ["bitrix24_deals", "bitrix24_contacts", "bitrix24_multifields", "bitrix24_statuses", "bitrix24_users"] {
            text = text.replacingOccurrences(of: "{\(table)}", with: sync.mirror.table(table))
        }
        let query = text
        return try await sync.mirror.database.run { try await $0.raw(SQLQueryString(query)).first() }.map { try $0.decode(column: column, as: T.self) }
    }

    @Test("full sync of deals and contacts: batch × start=-1, typed columns, labels, phones; never over the portal's limit", arguments: TestBackend.all)
    func fullSync(backend: TestBackend) async throws {
        // 1,400 deals: batches of 1, 2, 4, 8 and 16 pages, so page keys past p09 are read.
        let emulator = Bitrix24Emulator(deals: 1_400, contacts: 160, seed: 7)
        try await Self.withSync(backend, emulator: emulator) { sync, _ in
            let deals = try sync.entity(named: "deal")
            let outcome = try await sync.run(deals, mode: .full)
            #expect(outcome.rowsRead == 1_400 && outcome.rowsInMirror == 1_400)
            #expect(await emulator.rejectedCount == 0)
            // 1,400 rows in pages of 50 = 29 list calls (the last one empty), chained 1, 2, 4, 8, 16 per batch
            // (the last batch overshoots by 2 pages), plus the count before and after.
            let calls = await emulator.methodCalls
            #expect(calls.filter { $0 == "crm.deal.list" }.count <= 33)
            #expect(await emulator.requestCount <= 12)
            #expect(try await Self.value(sync, "SELECT COUNT(*) AS v FROM {bitrix24_deals} WHERE stage_id_label IS NULL") == 0)
            #expect(try await Self.value(sync, "SELECT COUNT(*) AS v FROM {bitrix24_deals} WHERE opportunity IS NULL") == 0)
            #expect(try await Self.value(sync, "SELECT COUNT(*) AS v FROM {bitrix24_deals} WHERE uf_crm_1687188412 IS NOT NULL AND uf_crm_1687188412_label IS NULL") == 0)
            let catalog = try await MirrorCatalog(sync.mirror).columns(table: "bitrix24_deals")
            #expect(catalog.first { $0.column == "uf_crm_1687188455" }?.label == "Оплачено")
            #expect(catalog.first { $0.column == "stage_id" }?.reference == "status:DEAL_STAGE")

            let contacts = try sync.entity(named: "contact")
            _ = try await sync.run(contacts, mode: .full)
            let phones = try await Self.value(sync, "SELECT COUNT(*) AS v FROM {bitrix24_multifields} WHERE entity = 'contact' AND field = 'PHONE'")
            let normalised = try await Self.value(sync, "SELECT COUNT(*) AS v FROM {bitrix24_multifields} WHERE field = 'PHONE' AND phone_e164 LIKE '+7%'")
            #expect((phones ?? 0) >= 160 && normalised == phones)

            for reference in ["status", "category", "user"] {
                let result = try await sync.run(try sync.entity(named: reference), mode: .incremental)
                #expect(result.mode == .full && result.rowsInMirror > 0)
            }
            #expect(try await Self.value(sync, "SELECT COUNT(*) AS v FROM {bitrix24_statuses} WHERE entity_id = 'DEAL_STAGE'") ?? 0 > 3)
            #expect(await emulator.maxObservedRate <= 50)
        }
    }

    @Test("incremental picks up changes and additions; the next full sync finds the deletion; new user fields become columns", arguments: TestBackend.all)
    func incrementalDeletionsDrift(backend: TestBackend) async throws {
        let emulator = Bitrix24Emulator(deals: 300, seed: 11)
        try await Self.withSync(backend, emulator: emulator) { sync, _ in
            let deals = try sync.entity(named: "deal")
            _ = try await sync.run(deals, mode: .full)
            await emulator.updateRecord(entity: .deal, id: 5, fields: ["TITLE": "Поставка оборудования (изменено)"])
            let added = try #require(await emulator.addRecord(entity: .deal, fields: ["TITLE": "Новая сделка", "STAGE_ID": "NEW"]))
            await emulator.deleteRecord(entity: .deal, id: 7)
            await emulator.addUserField(entity: .deal, code: "UF_CRM_1700000001", type: "string", label: "Промокод")
            let incremental = try await sync.run(deals, mode: .incremental)
            #expect(incremental.mode == .incremental)
            #expect(incremental.rowsRead >= 2 && incremental.rowsRead < 50)
            #expect(incremental.columnsAdded >= 1)
            #expect(try await Self.value(sync, "SELECT title AS v FROM {bitrix24_deals} WHERE id = 5", as: String.self) == "Поставка оборудования (изменено)")
            #expect(try await Self.value(sync, "SELECT COUNT(*) AS v FROM {bitrix24_deals} WHERE id = \(added)") == 1)
            let catalog = try await MirrorCatalog(sync.mirror).columns(table: "bitrix24_deals")
            #expect(catalog.first { $0.crmField == "UF_CRM_1700000001" }?.label == "Промокод")
            // Deletions are not in an incremental read; the reconcile finds them.
            #expect(try await Self.value(sync, "SELECT COUNT(*) AS v FROM {bitrix24_deals} WHERE deleted_at IS NOT NULL") == 0)
            let full = try await sync.run(deals, mode: .full)
            #expect(full.rowsDeleted == 1 && full.rowsInMirror == 300)
            #expect(try await Self.value(sync, "SELECT id AS v FROM {bitrix24_deals} WHERE deleted_at IS NOT NULL") == 7)
        }
    }

    @Test("several syncs of one tenant at once share its SQLite mirror file without 'database is locked'")
    func concurrentSyncsShareTheFile() async throws {
        let emulator = Bitrix24Emulator(deals: 300, contacts: 300, leads: 300, companies: 300, seed: 9)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withDatabase(.sqlite) { database in
                let tenant = try await TenantProvisioning.create(database: database, secrets: TestSupport.secrets, slug: "many", name: "Many")
                let client = Bitrix24Client(endpoint: .webhook(url: "\(base)/rest/1/sandboxwebhookcode/"))
                // Each sync opens the mirror itself, as separate jobs do; all start on a file that does not exist yet.
                try await withThrowingTaskGroup(of: Int64.self) { group in
                    for name in ["deal", "contact", "lead", "company", "status", "category", "user"] {
                        group.addTask {
                            try await MirrorDatabase.with(tenantID: tenant.tenant.id, main: database, integrations: IntegrationRepository(database, secrets: TestSupport.secrets)) { mirror in
                                let sync = MirrorSync(
                                    source: Bitrix24MirrorSource(client: client), mirror: mirror, states: SyncStateRepository(database),
                                    tenantID: tenant.tenant.id, logger: TestSupport.logger)
                                return try await sync.run(try sync.entity(named: name), mode: .full).rowsInMirror
                            }
                        }
                    }
                    var rows: [Int64] = []
                    for try await count in group { rows.append(count) }
                    #expect(rows.filter { $0 == 300 }.count == 4 && rows.allSatisfy { $0 > 0 })
                }
            }
        }
    }

    @Test("a 503 storm fails the run as retryable; the next attempt finishes with nothing duplicated", arguments: [TestBackend.sqlite])
    func rateLimitStorm(backend: TestBackend) async throws {
        let emulator = Bitrix24Emulator(deals: 400, seed: 3)
        try await Self.withSync(backend, emulator: emulator) { sync, _ in
            let deals = try sync.entity(named: "deal")
            // The client repeats a refused request twice by itself; six refusals in a row fail the run.
            await emulator.failNext(6)
            do {
                _ = try await sync.run(deals, mode: .full)
                Issue.record("the run should have failed")
            } catch let error as Bitrix24Error {
                #expect(error.isRateLimited && error.status == 503)
                #expect(error.jobFailure == .retryable("Bitrix24 \(error.description)", retryAfter: .seconds(1)))
            }
            // The job runner retries; here, by hand, until the storm is over.
            var outcome: MirrorSync.Outcome?
            for _ in 0..<3 where outcome == nil { outcome = try? await sync.run(deals, mode: .full) }
            #expect(outcome?.rowsInMirror == 400)
            #expect(try await Self.value(sync, "SELECT COUNT(DISTINCT id) AS v FROM {bitrix24_deals}") == 400)
        }
    }
}

@Suite("Bitrix24 sync API and events")
struct Bitrix24SyncAPITests {
    @Test("start → job → status/logs; duplicates share the job; bad input is a 400 naming the field; events: forged token 401, real one re-reads the record", arguments: TestBackend.all)
    func syncThroughAPI(backend: TestBackend) async throws {
        let emulator = Bitrix24Emulator(deals: 120, seed: 5)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                let hookToken = "sandbox-application-token-0001"
                let noIntegration = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/deal", token: token, json: #"{"sync_type":"full"}"#)
                #expect(noIntegration.status == .conflict && noIntegration.errorField == "integration")
                let put = try await client.send(
                    .put, "/api/v1/tenants/alpha/integrations/bitrix24", token: token,
                    json: #"{"settings":{"portal_url":"\#(base)"},"secrets":{"webhook_url":"\#(base)/rest/1/sandboxwebhookcode/","application_token":"\#(hookToken)"},"enabled":true}"#)
                #expect(put.status == .ok)
                let badEntity = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/invoice", token: token, json: #"{"sync_type":"full"}"#)
                #expect(badEntity.status == .badRequest && badEntity.errorField == "entity")
                let badType = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/deal", token: token, json: #"{"sync_type":"fast"}"#)
                #expect(badType.status == .badRequest && badType.errorField == "sync_type")
                let badConfig = try await client.send(
                    .put, "/api/v1/tenants/alpha/sync/config", token: token, json: #"{"entity_type":"deal","sync_interval_minutes":0}"#)
                #expect(badConfig.status == .badRequest && badConfig.errorField == "sync_interval_minutes")

                let started = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/deal", token: token, json: #"{"sync_type":"full"}"#)
                #expect(started.status == .accepted && started.object["status"] as? String == "queued")
                let jobID = try #require(started.object["job_id"] as? String)
                let again = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/deal", token: token, json: #"{"sync_type":"full"}"#)
                #expect(again.object["job_id"] as? String == jobID && again.object["status"] as? String == "already_queued")
                let queued = try await client.send(.get, "/api/v1/tenants/alpha/sync/status", token: token)
                let queuedDeal = (queued.object["items"] as? [[String: Any]])?.first { $0["entity"] as? String == "deal" }
                #expect(queuedDeal?["state"] as? String == "queued")

                try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: jobID)?.state == .succeeded }
                let status = try await client.send(.get, "/api/v1/tenants/alpha/sync/status", token: token)
                let deal = try #require((status.object["items"] as? [[String: Any]])?.first { $0["entity"] as? String == "deal" })
                #expect(deal["state"] as? String == "succeeded" && deal["rows_in_mirror"] as? Int == 120 && deal["last_full_at"] != nil)
                let logs = try await client.send(.get, "/api/v1/tenants/alpha/sync/logs?entity=deal", token: token)
                #expect((logs.object["items"] as? [[String: Any]])?.first?["rows_read"] as? Int == 120)
                let integrationLog = try await client.send(.get, "/api/v1/tenants/alpha/logs?integration=bitrix24", token: token)
                #expect(!integrationLog.text.contains("sandboxwebhookcode"))

                let config = try await client.send(
                    .put, "/api/v1/tenants/alpha/sync/config", token: token,
                    json: #"{"entity_type":"deal","sync_interval_minutes":15,"webhook_enabled":true}"#)
                #expect(config.object["sync_interval_minutes"] as? Int == 15 && config.object["entity_type"] as? String == "deal")

                // Events: the recorded form body shape, with our tenant's token.
                await emulator.updateRecord(entity: .deal, id: 9, fields: ["TITLE": "Изменено в Bitrix24"])
                func event(_ token: String) -> String {
                    "event=ONCRMDEALUPDATE&event_handler_id=58&data%5BFIELDS%5D%5BID%5D=9&ts=1727018926&auth%5Bdomain%5D=sandbox.bitrix24.ru"
                        + "&auth%5Bmember_id%5D=abc&auth%5Bapplication_token%5D=\(token)"
                }
                var headers = HTTPFields()
                headers[.contentType] = "application/x-www-form-urlencoded"
                let forged = try await client.execute(
                    uri: "/hooks/bitrix24/alpha", method: .post, headers: headers, body: ByteBuffer(string: event("forged-token")))
                #expect(forged.status == .unauthorized && forged.errorField == "auth[application_token]")
                let noID = try await client.execute(
                    uri: "/hooks/bitrix24/alpha", method: .post, headers: headers,
                    body: ByteBuffer(string: "event=ONCRMDEALUPDATE&auth%5Bapplication_token%5D=\(hookToken)"))
                #expect(noID.status == .badRequest)
                let accepted = try await client.execute(
                    uri: "/hooks/bitrix24/alpha", method: .post, headers: headers, body: ByteBuffer(string: event(hookToken)))
                #expect(accepted.status == .ok && accepted.object["status"] as? String == "accepted")
                let applyID = try #require(accepted.object["job_id"] as? String)
                try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: applyID)?.state == .succeeded }
                let title = try await MirrorDatabase.with(tenantID: world.tenantA.tenant.id, main: world.services.database, integrations: world.services.stores.integrations) { mirror in
                    try await mirror.database.run { sql in
                        try await sql.raw("SELECT title FROM \(unsafeRaw: mirror.table("bitrix24_deals")) WHERE id = 9").first()
                    }?.decode(column: "title", as: String.self)
                }
                #expect(title == "Изменено в Bitrix24")

                // Registering handlers needs an installed app; with an incoming webhook the answer says what to do.
                let register = try await client.send(.post, "/api/v1/tenants/alpha/webhooks/register?handler_base_url=https://sb.example.com", token: token)
                #expect(register.status == .conflict && register.errorCode == "bitrix24_needs_app")
                #expect(register.text.contains("https://sb.example.com/hooks/bitrix24/"))
            }
        }
    }
}
