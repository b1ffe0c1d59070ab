import Foundation
import SQLKit
import Storage
import SwitchboardCore
import Testing

@Suite("Storage on SQLite and PostgreSQL")
struct StorageTests {
    @Test("migrations apply once, are idempotent and report the latest version", arguments: TestBackend.all)
    func migrations(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend, migrate: false) { database in
            let migrator = Migrator()
            #expect(try await migrator.appliedVersions(database).isEmpty)
            let first = try await migrator.migrate(database, logger: TestSupport.logger)
            #expect(first == migrator.migrations.map(\.version))
            let second = try await migrator.migrate(database, logger: TestSupport.logger)
            #expect(second.isEmpty)
            #expect(try await migrator.appliedVersions(database).last == migrator.latestVersion)
        }
    }

    @Test("a later migration keeps existing rows", arguments: TestBackend.all)
    func migrationKeepsData(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let stores = Stores(database, secrets: TestSupport.secrets)
            _ = try await stores.tenants.create(slug: "keep", name: "Keep")
            let extra = Migration(version: 9_999, name: "test: add a column") { t in
                ["ALTER TABLE tenants ADD COLUMN note \(t.text)"]
            }
            let applied = try await Migrator(migrations: ControlMigrations.all + [extra])
                .migrate(database, logger: TestSupport.logger)
            #expect(applied == [9_999])
            #expect(try await stores.tenants.find("keep")?.name == "Keep")
        }
    }

    @Test("tenants: create, find by id/slug/PBX token, update, rotate, soft delete", arguments: TestBackend.all)
    func tenants(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let repo = TenantRepository(database, secrets: TestSupport.secrets)
            let (tenant, pbx) = try await repo.create(slug: "acme", name: " Acme ")
            #expect(tenant.name == "Acme")
            #expect(try await repo.find(tenant.id) == tenant)
            #expect(try await repo.find("acme")?.id == tenant.id)
            #expect(try await repo.find(pbxToken: pbx)?.id == tenant.id)
            #expect(try await repo.pbxToken(id: tenant.id) == pbx)

            await #expect(throws: SwitchboardError.self) { _ = try await repo.create(slug: "acme", name: "Again") }
            do {
                _ = try await repo.create(slug: "acme", name: "Again")
            } catch let error as SwitchboardError {
                #expect(error.kind == .conflict && error.field == "slug")
            }

            let updated = try await repo.update(id: tenant.id, name: "Acme Ltd", defaultCountry: "KZ", timeZone: "Asia/Almaty")
            #expect(try await repo.find("acme") == updated)

            let rotated = try await repo.rotatePBXToken(id: tenant.id)
            #expect(rotated != pbx)
            #expect(try await repo.find(pbxToken: pbx) == nil)
            #expect(try await repo.find(pbxToken: rotated)?.id == tenant.id)

            // The PBX token is stored hashed and sealed, never in the clear.
            let raw = try await database.run { sql in
                try await sql.raw("SELECT pbx_token_hash, pbx_token_enc FROM tenants").all()
            }
            for row in raw {
                #expect(try !row.decode(column: "pbx_token_enc", as: String.self).contains(rotated))
                #expect(try row.decode(column: "pbx_token_hash", as: String.self) != rotated)
            }

            try await repo.softDelete(id: tenant.id)
            #expect(try await repo.find("acme") == nil)
            #expect(try await repo.list().isEmpty)
            let kept = try await database.run { sql in try await sql.raw("SELECT COUNT(*) AS n FROM tenants").first()?.decode(column: "n", as: Int.self) }
            #expect(kept == 1)
        }
    }

    @Test("tenant validation names the field", arguments: [
        ("Bad Slug", "slug"), ("-x", "slug"), ("ok-slug", nil),
    ] as [(String, String?)])
    func tenantValidation(slug: String, field: String?) throws {
        do {
            try Tenant.validate(slug: slug)
            #expect(field == nil)
        } catch {
            #expect(error.field == field)
        }
    }

    @Test("integrations: secrets sealed at rest, merged, masked; enable checks required fields", arguments: TestBackend.all)
    func integrations(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let stores = Stores(database, secrets: TestSupport.secrets)
            let (tenant, _) = try await stores.tenants.create(slug: "acme", name: "Acme")
            let repo = stores.integrations
            do {
                _ = try await repo.save(
                    tenantID: tenant.id, kind: .retailcrm,
                    change: .init(enabled: true, settings: ["base_url": .string("https://acme.retailcrm.ru")]))
                Issue.record("enabling without api_key must fail")
            } catch let error as SwitchboardError {
                #expect(error.field == "secrets.api_key")
            }
            let secret = "rc-key-0123456789abcdef"
            let saved = try await repo.save(
                tenantID: tenant.id, kind: .retailcrm,
                change: .init(enabled: true, settings: ["base_url": .string("https://acme.retailcrm.ru")], secrets: ["api_key": secret]))
            #expect(saved.enabled && saved.secrets["api_key"] == secret)
            #expect(saved.maskedSecrets["api_key"] == "rc…ef")

            let raw = try await database.run { sql in
                try await sql.raw("SELECT secrets_enc, settings FROM integrations").first()
            }
            let sealed = try #require(try raw?.decode(column: "secrets_enc", as: String.self))
            #expect(sealed.hasPrefix("v1.") && !sealed.contains(secret))

            // Secrets merge: adding one keeps the other; null removes.
            _ = try await repo.save(tenantID: tenant.id, kind: .retailcrm, change: .init(secrets: ["extra": "x"]))
            var found = try #require(try await repo.find(tenantID: tenant.id, kind: .retailcrm))
            #expect(found.secrets == ["api_key": secret, "extra": "x"])
            _ = try await repo.save(tenantID: tenant.id, kind: .retailcrm, change: .init(secrets: ["extra": String?.none]))
            found = try #require(try await repo.find(tenantID: tenant.id, kind: .retailcrm))
            #expect(found.secrets == ["api_key": secret])

            // A ciphertext copied to another tenant's row does not open there.
            let (other, _) = try await stores.tenants.create(slug: "other", name: "Other")
            _ = try await repo.save(tenantID: other.id, kind: .retailcrm, change: .init(secrets: ["api_key": "x"]))
            try await database.run { sql in
                try await sql.raw("UPDATE integrations SET secrets_enc = \(bind: sealed) WHERE tenant_id = \(bind: other.id)").run()
            }
            await #expect(throws: SwitchboardError.self) { _ = try await repo.find(tenantID: other.id, kind: .retailcrm) }

            #expect(try await repo.list(tenantID: tenant.id).map(\.kind) == [.retailcrm])
            try await repo.delete(tenantID: tenant.id, kind: .retailcrm)
            #expect(try await repo.list(tenantID: tenant.id).isEmpty)
        }
    }

    @Test("users, API tokens, signing keys and integration logs", arguments: TestBackend.all)
    func accounts(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let stores = Stores(database, secrets: TestSupport.secrets)
            let (tenant, _) = try await stores.tenants.create(slug: "acme", name: "Acme")

            let user = try await stores.users.create(email: "Ops@Example.com", role: .tenantAdmin, tenantID: tenant.id, passwordHash: "h")
            #expect(try await stores.users.find(email: "ops@example.com") == user)
            await #expect(throws: SwitchboardError.self) {
                _ = try await stores.users.create(email: "ops@example.com", role: .superAdmin, tenantID: nil, passwordHash: "h")
            }
            try await stores.users.setDisabled(id: user.id, true)
            #expect(try await stores.users.find(id: user.id)?.disabledAt != nil)

            let (token, plaintext) = try await stores.apiTokens.issue(tenantID: tenant.id, name: "ci", scope: .read)
            #expect(plaintext.hasPrefix("sbt_") && token.prefix == String(plaintext.prefix(10)))
            #expect(try await stores.apiTokens.authenticate(plaintext)?.id == token.id)
            #expect(try await stores.apiTokens.authenticate(plaintext + "x") == nil)
            await #expect(throws: SwitchboardError.self) { try await stores.apiTokens.revoke(tenantID: "other", id: token.id) }
            try await stores.apiTokens.revoke(tenantID: tenant.id, id: token.id)
            #expect(try await stores.apiTokens.authenticate(plaintext) == nil)
            let expiring = try await stores.apiTokens.issue(tenantID: tenant.id, name: "short", scope: .write, expiresAt: Date().addingTimeInterval(3600))
            #expect(try await stores.apiTokens.authenticate(expiring.plaintext, now: Date().addingTimeInterval(7200)) == nil)

            let key = SigningKey(kid: "k1", algorithm: .eddsa, material: Array(repeating: 1, count: 32), createdAt: Date.storageNow)
            try await stores.signingKeys.add(key)
            #expect(try await stores.signingKeys.active() == [key])
            try await stores.signingKeys.retire(kid: "k1")
            #expect(try await stores.signingKeys.active().isEmpty)

            for (index, status) in [IntegrationLogEntry.Status.success, .error, .success].enumerated() {
                try await stores.logs.append(
                    IntegrationLogEntry(
                        id: Identifiers.newID(), tenantID: tenant.id, integration: index == 2 ? "bitrix24" : "retailcrm",
                        eventType: "call_event", status: status, requestData: "{}", responseData: nil, errorMessage: nil,
                        durationMs: 5, createdAt: Date().addingTimeInterval(Double(index))))
            }
            #expect(try await stores.logs.list(tenantID: tenant.id).count == 3)
            #expect(try await stores.logs.list(tenantID: tenant.id, filter: .init(status: .error)).count == 1)
            #expect(try await stores.logs.list(tenantID: tenant.id, filter: .init(integration: "bitrix24")).count == 1)
            #expect(try await stores.logs.list(tenantID: tenant.id, filter: .init(limit: 2)).map(\.integration) == ["bitrix24", "retailcrm"])
        }
    }

    @Test("a failed transaction leaves nothing behind", arguments: TestBackend.all)
    func transactionRollback(backend: TestBackend) async throws {
        struct Boom: Error {}
        try await TestSupport.withDatabase(backend) { database in
            await #expect(throws: Boom.self) {
                try await database.transaction { tx in
                    _ = try await TenantRepository(tx, secrets: TestSupport.secrets).create(slug: "ghost", name: "Ghost")
                    throw Boom()
                }
            }
            let ghost = try await TenantRepository(database, secrets: TestSupport.secrets).find("ghost")
            #expect(ghost == nil)
        }
    }

    @Test("concurrent writers on one database all land", arguments: TestBackend.all)
    func concurrentWrites(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        _ = try await TenantProvisioning.create(
                            database: database, secrets: TestSupport.secrets, slug: "t\(index)", name: "T\(index)")
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await TenantRepository(database, secrets: TestSupport.secrets).list().count == 20)
        }
    }

    @Test("SQLite's WAL reaches the database file in the background, not in a writer's commit")
    func backgroundCheckpoint() async throws {
        let path = TestSupport.temporaryDirectory() + "/switchboard.sqlite"
        @Sendable func size(_ file: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0 }
        try await Database.withDatabase(.sqlite(path: path), logger: TestSupport.logger) { database in
            try await database.run { try await $0.raw("CREATE TABLE filler (body TEXT)").run() }
            let before = size(path)
            // ~2 MB: past 1,000 WAL pages, where SQLite would checkpoint inside a commit.
            let row = String(repeating: "x", count: 4000)
            for _ in 0..<10 {
                try await database.transaction { tx in
                    try await tx.run { sql in
                        for _ in 0..<50 { try await sql.raw("INSERT INTO filler (body) VALUES (\(bind: row))").run() }
                    }
                }
            }
            // Commits never checkpoint (`wal_autocheckpoint = 0`): only the background checkpointer can grow the file.
            #expect(size(path + "-wal") > 1_000_000, "the commits left their pages in the WAL")
            let deadline = ContinuousClock.now + .seconds(10)
            while size(path) < before + 1_500_000, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            #expect(size(path) >= before + 1_500_000, "the checkpointer copied the WAL into the database file")
        }
    }
}
