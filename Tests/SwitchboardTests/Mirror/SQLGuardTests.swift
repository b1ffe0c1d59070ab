import Analytics
import Foundation
import HummingbirdTesting
import Sandbox
import Server
import SwitchboardCore
import Testing

/// SQL nobody on our side wrote, against every layer: the guard's attack corpus, then real queries over a
/// mirror on both backends — reads work; writes, files, sleeps, other schemas and huge results do not.
@Suite("SQL guard for mirror queries")
struct SQLGuardTests {
    /// Each must be refused by the guard itself (dialect: both unless marked).
    static let attacks: [(String, SQLGuard.DatabaseDialect?)] = [
        ("DELETE FROM amocrm_leads", nil), ("UPDATE amocrm_leads SET price = 0", nil), ("INSERT INTO amocrm_leads (id) VALUES (1)", nil),
        ("DROP TABLE amocrm_leads", nil), ("CREATE TABLE x (a int)", nil), ("ALTER TABLE amocrm_leads ADD COLUMN x int", nil),
        ("TRUNCATE amocrm_leads", nil), ("SELECT 1; DROP TABLE amocrm_leads", nil), ("SELECT 1; SELECT 2", nil),
        ("select 1 -- harmless\n; delete from amocrm_leads", nil), ("SELECT 1 /* */ ", nil), ("SELECT $$x$$", nil),
        ("WITH gone AS (DELETE FROM amocrm_leads RETURNING *) SELECT * FROM gone", nil), ("SELECT * INTO copy FROM amocrm_leads", nil),
        ("SELECT * FROM amocrm_leads FOR UPDATE", nil), ("SELECT pg_read_file('/etc/passwd')", nil), ("SELECT pg_sleep(30)", nil),
        ("SELECT * FROM pg_catalog.pg_tables", nil), ("SELECT * FROM information_schema.tables", nil), ("SELECT * FROM \"pg_catalog\".\"pg_user\"", nil),
        ("SELECT U&\"\\0070g_sleep\"(5)", nil), ("SELECT * FROM mirror_0123456789abcdef.amocrm_leads", nil), ("SELECT * FROM public.tenants", nil),
        ("SELECT lo_import('/etc/passwd')", nil), ("SELECT dblink('host=x', 'select 1')", nil), ("SELECT current_setting('data_directory')", nil),
        ("SELECT set_config('search_path', 'public', false)", nil), ("SELECT query_to_xml('delete from x', true, true, '')", nil),
        ("ATTACH DATABASE '/tmp/x.db' AS x", nil), ("SELECT load_extension('/tmp/evil.so')", nil), ("SELECT * FROM sqlite_master", nil),
        ("SELECT * FROM pragma_database_list", nil), ("PRAGMA writable_schema = 1", nil), ("SELECT zeroblob(1000000000)", nil),
        ("SELECT printf('%999999999c', 'x')", .sqlite), ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT sum(x) FROM c", .sqlite),
        ("COPY amocrm_leads TO '/tmp/out'", nil), ("SET ROLE postgres", nil), ("BEGIN", nil), ("", nil), ("   ;", nil), ("SELECT '\u{0}'", nil),
        ("SELECT 'unclosed", nil), ("VACUUM", nil), ("EXPLAIN ANALYZE DELETE FROM amocrm_leads", nil), ("SELECT * FROM main.amocrm_leads", nil),
    ]

    static let allowed = [
        "SELECT status_id_label, COUNT(*) AS leads, SUM(price) FROM amocrm_leads WHERE deleted_at IS NULL GROUP BY 1 ORDER BY 2 DESC",
        "select 'DROP TABLE x; DELETE' as text_only, replace(name, 'Сделка', 'Deal') from amocrm_leads;",
        "WITH won AS (SELECT * FROM amocrm_leads WHERE status_id = 142) SELECT COUNT(*) FROM won",
        "SELECT l.id, c.name FROM amocrm_leads l JOIN amocrm_contacts c ON c.id = l.main_contact_id -- a comment\n",
        "SELECT \"id\" FROM \"amocrm_leads\" WHERE name LIKE '%update%'",
    ]

    @Test("the attack corpus is refused naming sql; everyday analytics queries pass")
    func corpus() throws {
        for (attack, dialect) in Self.attacks {
            for current in dialect.map({ [$0] }) ?? [.sqlite, .postgres] {
                #expect(throws: SwitchboardError.self, "\(current): \(attack)") { try SQLGuard.check(attack, dialect: current) }
                do { _ = try SQLGuard.check(attack, dialect: current) } catch { #expect(error.field == "sql" && error.code == "sql_refused") }
            }
        }
        for query in Self.allowed {
            for current in [SQLGuard.DatabaseDialect.sqlite, .postgres] {
                #expect(throws: Never.self, "\(current): \(query)") { try SQLGuard.check(query, dialect: current) }
            }
        }
        #expect(try SQLGuard.check("SELECT * FROM mirror_ab.x", dialect: .postgres, schema: "mirror_ab") == "SELECT * FROM mirror_ab.x")
        #expect(try SQLGuard.check("SELECT 1;", dialect: .sqlite) == "SELECT 1")
    }

    @Test("over a real mirror: reads answer with typed values and a row limit; the database refuses what slipped through; another tenant's data is out of reach", arguments: TestBackend.all)
    func queries(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 120, contacts: 10, seed: 5, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                let none = try await client.send(.post, "/api/v1/tenants/alpha/query", token: token, json: #"{"sql":"SELECT 1 AS one"}"#)
                #expect(none.status == .ok || none.status == .notFound, "\(none.text)")
                try await AmoCRMMirrorTests.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                try await AmoCRMMirrorTests.sync(client, world, token: token, entity: "lead")
                func ask(_ sql: String, limit: Int? = nil) async throws -> TestResponse {
                    let body = JSONValue.object(["sql": .string(sql), "limit": limit.map { .number(Double($0)) } ?? .null]).jsonText
                    return try await client.send(.post, "/api/v1/tenants/alpha/query", token: token, json: body.replacingOccurrences(of: ",\"limit\":null", with: ""))
                }
                let counted = try await ask("SELECT COUNT(*) AS n, SUM(price) AS total FROM amocrm_leads WHERE deleted_at IS NULL")
                #expect(counted.status == .ok, "\(counted.text)")
                #expect(counted.object["columns"] as? [String] == ["n", "total"])
                let row = (counted.object["rows"] as? [[Any]])?.first
                #expect((row?.first as? NSNumber)?.intValue == 120 && (row?.last as? NSNumber)?.doubleValue ?? 0 > 0)
                #expect((counted.object["isolation"] as? [String])?.contains("guard") == true)
                let limited = try await ask("SELECT id, name FROM amocrm_leads ORDER BY id", limit: 50)
                #expect((limited.object["rows"] as? [[Any]])?.count == 50 && limited.object["truncated"] as? Bool == true)
                let refused = try await ask("DELETE FROM amocrm_leads")
                #expect(refused.status == .badRequest && refused.errorField == "sql")
                let broken = try await ask("SELECT no_such_column FROM amocrm_leads")
                #expect(broken.status == .badRequest && broken.text.contains("sql_error"), "\(broken.text)")
                // The main database's tables are not in reach: on SQLite another file, on PostgreSQL another schema the role cannot read.
                let secrets = try await ask("SELECT * FROM integrations")
                #expect(secrets.status == .badRequest, "\(secrets.text)")
                if backend == .postgres {
                    let timing = try await ask("SELECT count(*) FROM generate_series(1, 200000000)")
                    #expect(timing.status == .serviceUnavailable && timing.text.contains("query_timeout"), "statement_timeout stops a long query: \(timing.text)")
                    #expect(try await ask("SELECT count(*) FROM amocrm_leads").status == .ok, "the connection is fine afterwards")
                }
                #expect(try await client.send(.post, "/api/v1/tenants/bravo/query", token: token, json: #"{"sql":"SELECT 1"}"#).status == .notFound)
                let leads = try await ask("SELECT COUNT(*) AS n FROM amocrm_leads")
                #expect(((leads.object["rows"] as? [[Any]])?.first?.first as? NSNumber)?.intValue == 120, "nothing was deleted")
            }
        }
    }
}
