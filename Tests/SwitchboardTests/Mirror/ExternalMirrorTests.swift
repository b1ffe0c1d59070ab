import Foundation
import Hummingbird
import HummingbirdTesting
import Mirror
import SQLKit
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

/// A tenant's mirror on its own PostgreSQL server (seed 001's "Bitrix24 → our PostgreSQL"), with
/// Switchboard itself on either backend: set up through the API, tested, synced into, and moved back.
@Suite("Mirror on the tenant's own PostgreSQL", .enabled(if: PostgresHarness.isAvailable || PostgresHarness.isRequired))
struct ExternalMirrorTests {
    static func count(_ url: PostgresURL, _ sql: String) async throws -> Int? {
        try await Database.withDatabase(.postgres(url), logger: TestSupport.logger) { database in
            try await database.run { try await $0.raw(SQLQueryString(sql)).first() }.map { try $0.decode(column: "n", as: Int.self) }
        }
    }

    @Test("bad addresses are 400s naming the field; test connection reports version and rights; a full sync lands in the tenant's schema; moving back starts over with a full run", arguments: TestBackend.all)
    func mirrorOnTenantServer(backend: TestBackend) async throws {
        let external = try await PostgresHarness.shared.freshDatabase()
        let emulator = Bitrix24Emulator(deals: 60, seed: 11)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                let path = "/api/v1/tenants/alpha/integrations/postgres"
                for (body, field) in [
                    (#"{"secrets":{"url":"mysql://u:p@db/x"},"enabled":true}"#, "secrets.url"),
                    (#"{"secrets":{"url":"postgres://u:p@db:5432/"},"enabled":true}"#, "secrets.url"),
                    (#"{"secrets":{"url":"postgres://u@x/db?host=/run/postgresql"},"enabled":true}"#, "secrets.url"),
                    (#"{"settings":{"schema":"Robert'); DROP"},"secrets":{"url":"postgres://u:p@db/x"}}"#, "settings.schema"),
                    (#"{"enabled":true}"#, "secrets.url"),
                ] {
                    let response = try await client.send(.put, path, token: token, json: body)
                    #expect(response.status == .badRequest && response.errorField == field, "\(body)")
                }

                // Switchboard's own test cluster stands in for the tenant's server; a password shows it stays masked.
                let address = "postgres://\(external.username):s3cret-pass@\(external.host):\(external.port)/\(external.database)?sslmode=disable"
                let saved = try await client.send(
                    .put, path, token: token, json: #"{"settings":{"schema":"crm"},"secrets":{"url":"\#(address)"},"enabled":true}"#)
                #expect(saved.status == .ok)
                #expect(!saved.text.contains("s3cret-pass"))
                let tested = try await client.send(.post, path + "/test", token: token)
                #expect(tested.object["ok"] as? Bool == true, "\(tested.text)")
                #expect(tested.text.contains("PostgreSQL") && tested.text.contains("new schema crm"))

                _ = try await client.send(
                    .put, "/api/v1/tenants/alpha/integrations/bitrix24", token: token,
                    json: #"{"settings":{"portal_url":"\#(base)"},"secrets":{"webhook_url":"\#(base)/rest/1/sandboxwebhookcode/"},"enabled":true}"#)
                func sync(_ type: String) async throws -> [String: Any] {
                    let started = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/deal", token: token, json: #"{"sync_type":"\#(type)"}"#)
                    let jobID = try #require(started.object["job_id"] as? String)
                    try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: jobID).map { !JobState.live.contains($0.state) } == true }
                    let logs = try await client.send(.get, "/api/v1/tenants/alpha/sync/logs?entity=deal", token: token)
                    return try #require((logs.object["items"] as? [[String: Any]])?.first)
                }
                let first = try await sync("full")
                #expect(first["status"] as? String == "succeeded" && first["rows_read"] as? Int == 60, "\(first)")
                #expect(try await Self.count(external, "SELECT COUNT(*) AS n FROM crm.bitrix24_deals WHERE deleted_at IS NULL") == 60)
                #expect(try await Self.count(external, "SELECT COUNT(*) AS n FROM crm.mirror_catalog WHERE table_name = 'bitrix24_deals'") ?? 0 > 10)
                // The call log follows the mirror too.
                _ = try await CallLogMirror(database: world.services.database, integrations: world.services.stores.integrations).copy(tenantID: world.tenantA.tenant.id)
                #expect(try await Self.count(external, "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'crm' AND table_name = 'switchboard_calls'") == 1)
                // Switchboard's own mirror stayed empty.
                let own = try await MirrorDatabase.with(
                    tenantID: world.tenantA.tenant.id, main: world.services.database, integrations: IntegrationRepository(world.services.database, secrets: world.services.secrets)
                ) { mirror in mirror.identity }
                #expect(own == "postgres://\(external.host):\(external.port)/\(external.database)#crm")

                // Back to Switchboard's own database: the checkpoint belongs to the other mirror, so an
                // incremental request runs full and fills the (empty) own mirror.
                let disabled = try await client.send(.post, path + "/disable", token: token)
                #expect(disabled.status == .ok)
                let back = try await sync("incremental")
                #expect(back["status"] as? String == "succeeded" && back["sync_type"] as? String == "full" && back["rows_read"] as? Int == 60, "\(back)")
                let ownCount = try await MirrorDatabase.with(
                    tenantID: world.tenantA.tenant.id, main: world.services.database, integrations: world.services.stores.integrations
                ) { mirror in
                    try await mirror.database.run { sql in
                        try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: mirror.table("bitrix24_deals"))").first()
                    }?.decode(column: "n", as: Int.self)
                }
                #expect(ownCount == 60)
                let again = try await sync("incremental")
                #expect(again["sync_type"] as? String == "incremental", "\(again)")
            }
        }
    }

    @Test("an unreachable or refusing server fails the test and the mirror in seconds, with the reason in plain words")
    func unreachableServer() async throws {
        let closed = try PostgresHarness.freePort()
        try await TestSupport.withApp(.sqlite) { client, world in
            let token = world.tenantA.apiTokenPlaintext
            let path = "/api/v1/tenants/alpha/integrations/postgres"
            let saved = try await client.send(
                .put, path, token: token, json: #"{"secrets":{"url":"postgres://u:p@127.0.0.1:\#(closed)/crm?sslmode=disable"},"enabled":true}"#)
            #expect(saved.status == .ok)
            let started = ContinuousClock.now
            let tested = try await client.send(.post, path + "/test", token: token)
            #expect(tested.object["ok"] as? Bool == false)
            #expect(tested.text.contains("refused"), "\(tested.text)")
            await #expect(throws: (any Error).self) {
                try await MirrorDatabase.with(tenantID: world.tenantA.tenant.id, main: world.services.database, integrations: world.services.stores.integrations) { _ in }
            }
            #expect(ContinuousClock.now - started < .seconds(40))

            // A server that answers but has no such database says so.
            let server = try await PostgresHarness.shared.freshDatabase()
            _ = try await client.send(
                .put, path, token: token,
                json: #"{"secrets":{"url":"postgres://\#(server.username)@\#(server.host):\#(server.port)/no_such_db?sslmode=disable"},"enabled":true}"#)
            let missing = try await client.send(.post, path + "/test", token: token)
            #expect(missing.object["ok"] as? Bool == false && missing.text.contains("does not exist"), "\(missing.text)")
        }
    }
}
