import Foundation
import Jobs
import Server
import Storage
import SwitchboardCore
import Synchronization

/// Sample data for `switchboard demo`: an admin, a tenant with integrations, and the credentials to try them.
enum DemoSeed {
    struct Seeded: Sendable {
        var email = "admin@demo.switchboard.local"
        var password = ""
        var tenant = "demo"
        var pbxToken = ""
        var apiToken = ""
        var reused = false
    }

    final class Box: Sendable {
        private let storage = Mutex(Seeded())
        var value: Seeded {
            get { storage.withLock { $0 } }
            set { storage.withLock { $0 = newValue } }
        }
    }

    static func seed(_ services: AppServices) async throws -> Seeded {
        var seeded = Seeded()
        if let existing = try await services.stores.tenants.find(seeded.tenant) {
            // A kept --data-dir: reuse it, with fresh credentials so the guide still works.
            seeded.reused = true
            seeded.pbxToken = try await services.stores.tenants.pbxToken(id: existing.id)
            seeded.apiToken = try await services.stores.apiTokens.issue(tenantID: existing.id, name: "demo", scope: .write).plaintext
            seeded.password = Identifiers.randomToken(prefix: "", bytes: 12)
            if let user = try await services.stores.users.find(email: seeded.email) {
                try await services.stores.users.setPasswordHash(id: user.id, hash: try await services.passwords.hash(seeded.password))
            }
            return seeded
        }
        let created = try await TenantProvisioning.create(
            database: services.database, secrets: services.secrets, slug: seeded.tenant, name: "Демо-компания / Demo Company")
        seeded.pbxToken = created.pbxToken
        seeded.apiToken = created.apiTokenPlaintext
        seeded.password = Identifiers.randomToken(prefix: "", bytes: 12)
        _ = try await services.stores.users.create(
            email: seeded.email, role: .superAdmin, tenantID: nil,
            passwordHash: try await services.passwords.hash(seeded.password))
        _ = try await services.stores.integrations.save(
            tenantID: created.tenant.id, kind: .asterisk,
            change: .init(
                enabled: true, settings: ["host": .string("127.0.0.1"), "port": .number(5038)],
                secrets: ["username": "switchboard", "secret": "demo-ami-secret-123"]))
        _ = try await services.stores.integrations.save(
            tenantID: created.tenant.id, kind: .retailcrm,
            change: .init(settings: ["base_url": .string("https://demo.retailcrm.ru")]))
        // A recurring job on the tenant's clock: a nightly connection test of the PBX at 03:00 Moscow time.
        let now = Date.storageNow
        try await services.stores.schedules.save(
            TenantSchedule(
                id: Identifiers.newID(), tenantID: created.tenant.id, name: "nightly PBX check", kind: StandardJobs.integrationTest,
                payload: ["kind": "asterisk"], cron: "0 3 * * *", createdAt: now, updatedAt: now))
        // A background job for the workers to run at once: its result lands in the job and the integration log.
        _ = try await services.jobs.enqueue(
            .init(kind: StandardJobs.integrationTest, tenantID: created.tenant.id, payload: ["kind": "asterisk"], maxAttempts: 3))
        return seeded
    }

    static func printGuide(_ seeded: Seeded, base: String, dataDir: String, health: String?) {
        let tenant = seeded.tenant
        // Written straight to the file handle so it appears at once even when stdout is a pipe.
        let guide = """

            Switchboard demo is running at \(base)   (Ctrl-C to stop)
            Data: \(dataDir) (embedded SQLite)\(seeded.reused ? " — reused; new credentials issued" : "")
            \(health.map { "Health check: \($0)\n" } ?? "")
            Admin login      \(seeded.email) / \(seeded.password)
            Tenant           \(tenant)  (PBX token \(seeded.pbxToken))
            Tenant API token \(seeded.apiToken)

            Try:
              curl -s \(base)/health
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations/asterisk/test
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/logs
              curl -s -X POST \(base)/api/v1/auth/login -d '{"email":"\(seeded.email)","password":"\(seeded.password)"}'
              TOKEN=$(curl -s -X POST \(base)/api/v1/auth/login -d '{"email":"\(seeded.email)","password":"\(seeded.password)"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
              curl -s -H "Authorization: Bearer $TOKEN" \(base)/api/v1/jobs          # background jobs and their results
              curl -s -H "Authorization: Bearer $TOKEN" -X POST \(base)/api/v1/jobs -d '{"kind":"integration.test","tenant":"\(tenant)","payload":{"kind":"asterisk"}}'
              curl -s -H "Authorization: Bearer $TOKEN" \(base)/api/v1/workers
              curl -s -H "Authorization: Bearer $TOKEN" \(base)/api/v1/tenants/\(tenant)/schedules   # recurring jobs (cron, tenant time zone)
              curl -s -H "Authorization: Bearer $TOKEN" -X POST \(base)/api/v1/tenants/\(tenant)/schedules -d '{"name":"hourly prune","kind":"jobs.prune","every_seconds":3600}'
              curl -s \(base)/openapi.json


            """
        FileHandle.standardOutput.write(Data(guide.utf8))
    }
}
