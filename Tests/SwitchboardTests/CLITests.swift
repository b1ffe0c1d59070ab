import Foundation
import Mirror
import Sandbox
import Storage
import SwitchboardCore
import Testing

@Suite("The switchboard command line")
struct CLITests {
    /// The flags that point a command at a fresh database of `backend`.
    private func storageFlags(_ backend: TestBackend) async throws -> [String] {
        switch try await TestSupport.location(backend) {
        case .sqlite(let path): ["--data-dir", URL(fileURLWithPath: path).deletingLastPathComponent().path]
        case .postgres(let url):
            ["--database-url", "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)?sslmode=disable",
             "--data-dir", TestSupport.temporaryDirectory()]
        }
    }

    @Test("tenant create --json, integrations with masked secrets, tokens, users, migrate", arguments: TestBackend.all)
    func adminCommands(backend: TestBackend) async throws {
        let flags = try await storageFlags(backend)
        let created = try await CommandRunner.run(["tenant", "create", "acme", "--name", "Акме", "--json"] + flags)
        #expect(created.status == 0, "\(created.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: String])
        #expect(Set(json.keys) == ["id", "slug", "pbx_token", "api_token"])
        #expect(json["slug"] == "acme" && json["pbx_token"]?.hasPrefix("pbx_") == true && json["api_token"]?.hasPrefix("sbt_") == true)

        let duplicate = try await CommandRunner.run(["tenant", "create", "acme"] + flags)
        #expect(duplicate.status != 0)
        #expect(duplicate.stderr.contains("already exists"))

        let set = try await CommandRunner.run(
            ["integration", "set", "acme", "retailcrm", "--setting", "base_url=https://acme.retailcrm.ru", "--setting", "timeout=3",
             "--secret", "api_key=-", "--enable"] + flags,
            stdin: "retail-secret-key-998877\n")
        #expect(set.status == 0, "\(set.stderr)")
        #expect(set.stdout.contains("re…77") && !set.stdout.contains("retail-secret-key-998877"))

        let shown = try await CommandRunner.run(["integration", "show", "acme", "--json"] + flags)
        #expect(shown.stdout.contains(#""timeout":3"#) && !shown.stdout.contains("retail-secret-key-998877"))
        let tenantShown = try await CommandRunner.run(["tenant", "show", "acme", "--reveal-pbx-token"] + flags)
        #expect(tenantShown.stdout.contains(json["pbx_token"]!))

        #expect(try await CommandRunner.run(["integration", "disable", "acme", "retailcrm"] + flags).stdout.contains("disabled"))
        let missing = try await CommandRunner.run(["integration", "set", "acme", "asterisk", "--enable"] + flags)
        #expect(missing.status != 0 && missing.stderr.contains("settings.host"))

        let token = try await CommandRunner.run(["tenant", "token", "acme", "--scope", "read", "--json"] + flags)
        #expect(token.stdout.contains(#""scope":"read""#))
        let list = try await CommandRunner.run(["tenant", "list", "--json"] + flags)
        #expect(list.stdout.contains(#""slug":"acme""#))

        let user = try await CommandRunner.run(["user", "create", "--email", "ops@example.com", "--bcrypt-cost", "4"] + flags)
        #expect(user.status == 0 && user.stdout.contains("password (shown only now)"))
        #expect(try await CommandRunner.run(["auth", "rotate-key", "--algorithm", "ES256"] + flags).status == 0)
        #expect(try await CommandRunner.run(["auth", "keys"] + flags).stdout.contains("ES256"))

        let migrate = try await CommandRunner.run(["migrate"] + flags)
        #expect(migrate.stdout.contains("schema version \(Migrator().latestVersion)"))
    }

    @Test("serve --help documents every setting")
    func serveHelp() async throws {
        let help = try await CommandRunner.run(["serve", "--help"]).stdout
        for needle in [
            "--host", "--port", "--data-dir", "--database-url", "SWITCHBOARD_HOST", "SWITCHBOARD_PORT", "SWITCHBOARD_DATA_DIR",
            "DATABASE_URL", "SWITCHBOARD_SECRET_KEY", "SWITCHBOARD_OPS_TOKEN", "SWITCHBOARD_EXTERNAL_JWT_SECRET", "--config",
        ] {
            #expect(help.contains(needle), "serve --help lacks \(needle)")
        }
    }

    @Test("configuration: flags over environment over config file over defaults")
    func configurationPrecedence() async throws {
        let directory = TestSupport.temporaryDirectory()
        let file = directory + "/config.json"
        try Data(#"{"port": 6060, "log_level": "warning"}"#.utf8).write(to: URL(fileURLWithPath: file))
        // Bad values are refused naming the setting, which shows which layer won.
        let fromFile = try await CommandRunner.run(["serve", "--data-dir", directory, "--config", file, "--bcrypt-cost", "99"])
        #expect(fromFile.status != 0 && fromFile.stderr.contains("bcrypt_cost"))
        let envWins = try await CommandRunner.run(
            ["serve", "--data-dir", directory, "--config", file], environment: ["SWITCHBOARD_PORT": "70000"])
        #expect(envWins.status != 0 && envWins.stderr.contains("port"))
        let flagWins = try await CommandRunner.run(
            ["serve", "--data-dir", directory, "--port", "70001"], environment: ["SWITCHBOARD_PORT": "8080"])
        #expect(flagWins.stderr.contains("port"))
        let badURL = try await CommandRunner.run(["migrate", "--data-dir", directory], environment: ["DATABASE_URL": "mysql://x"])
        #expect(badURL.status != 0 && badURL.stderr.contains("DATABASE_URL"))
    }

    @Test("demo starts, answers /health and prints the guide")
    func demo() async throws {
        let result = try await CommandRunner.run(["demo", "--check", "--port", "0", "--data-dir", TestSupport.temporaryDirectory()])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Health check: HTTP 200"), "\(result.stdout)")
        #expect(result.stdout.contains("Tenant API token sbt_"))
    }
}

extension CLITests {
    @Test("ask draws in the terminal, writes SVG, and --eval scores a question set (failing below --min-score)")
    func ask() async throws {
        let directory = TestSupport.temporaryDirectory()
        let created = try await CommandRunner.run(["tenant", "create", "acme", "--json", "--data-dir", directory])
        let tenantID = try #require((try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: String])?["id"])
        // A call log in the tenant's mirror, written the way the server does.
        let location = try DatabaseLocation.resolve(databaseURL: nil, dataDir: directory)
        try await Database.withDatabase(location, logger: TestSupport.logger) { database in
            let secrets = try SecretBox.load(base64Key: nil, previous: [], dataDir: directory, logger: TestSupport.logger)
            let now = Date.storageNow
            let calls = CallHistoryGenerator.calls(count: 120, days: 20, extensions: ["101", "102"], seed: 3, now: now).map {
                CallRecord(id: Identifiers.newID(), tenantID: tenantID, source: .download, progress: .completed, dialSeen: true, call: $0, createdAt: now, updatedAt: now)
            }
            try await CallRepository(database).save(calls)
            _ = try await CallLogMirror(database: database, integrations: IntegrationRepository(database, secrets: secrets)).copy(tenantID: tenantID)
        }
        let drawn = try await CommandRunner.run(["ask", "acme", "calls by outcome", "--data-dir", directory])
        #expect(drawn.status == 0 && drawn.stdout.contains("█") && drawn.stdout.contains("answered") && drawn.stdout.contains("SQL: SELECT"), "\(drawn.stderr)")
        let file = directory + "/calls.svg"
        let svg = try await CommandRunner.run(["ask", "acme", "Звонки по менеджерам", "--format", "svg", "--out", file, "--data-dir", directory])
        #expect(svg.status == 0 && (try? String(contentsOfFile: file, encoding: .utf8))?.hasPrefix("<svg") == true)

        let set = directory + "/set.json"
        try Data(#"""
            {"questions": [
              {"question": "calls by outcome", "expected_sql": "SELECT outcome, COUNT(*) FROM switchboard_calls WHERE deleted_at IS NULL GROUP BY outcome", "expected_chart": "pie"},
              {"question": "Сколько пропущенных звонков?", "expected_sql": "SELECT COUNT(*) FROM switchboard_calls WHERE outcome IN ('no_answer', 'abandoned')", "expected_chart": "kpi"},
              {"question": "calls by direction", "expected_sql": "SELECT direction, COUNT(*) + 1 FROM switchboard_calls GROUP BY direction"}
            ]}
            """#.utf8).write(to: URL(fileURLWithPath: set))
        let scored = try await CommandRunner.run(["ask", "acme", "--eval", set, "--data-dir", directory])
        #expect(scored.status == 0 && scored.stdout.contains("2 of 3 questions") && scored.stdout.contains("✘ calls by direction"), "\(scored.stdout) \(scored.stderr)")
        let strict = try await CommandRunner.run(["ask", "acme", "--eval", set, "--min-score", "0.9", "--format", "json", "--data-dir", directory])
        #expect(strict.status != 0 && strict.stdout.contains(#""matched":2"#))
        let bad = try await CommandRunner.run(["ask", "acme", "x", "--data-dir", directory])
        #expect(bad.status != 0 && bad.stderr.contains("3–500"))
    }
}
