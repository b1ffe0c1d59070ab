import Foundation
import Storage
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
