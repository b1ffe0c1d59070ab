import Foundation
import Jobs
import SQLKit
import Server
import Storage
import SwitchboardCore
import Testing

@Suite("The scheduler across two worker processes")
struct SchedulerProcessTests {
    @Test("two `switchboard worker` processes fire a tenant schedule once per period", arguments: TestBackend.all)
    func twoProcesses(backend: TestBackend) async throws {
        let location = try await TestSupport.location(backend)
        var flags = ["--log-format", "text", "--workers", "2"]
        var dataDir = TestSupport.temporaryDirectory()
        if case .postgres(let url) = location {
            flags += ["--database-url", "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)?sslmode=disable"]
        } else if case .sqlite(let path) = location {
            dataDir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        }
        flags += ["--data-dir", dataDir]
        let secrets = try SecretBox.load(base64Key: nil, previous: [], dataDir: dataDir, logger: TestSupport.logger)

        // A one-second schedule (below the API's minimum, so written directly) makes periods short.
        let (scheduleName, tenantID) = try await Database.withDatabase(location, logger: TestSupport.logger) { database in
            try await Migrator().migrate(database, logger: TestSupport.logger)
            let tenant = try await Stores(database, secrets: secrets).tenants.create(slug: "ticks", name: "Ticks").tenant
            let id = Identifiers.newID()
            let now = Date.storageNow
            try await database.run { sql in
                try await sql.raw(
                    """
                    INSERT INTO schedules (id, tenant_id, name, kind, payload, every_seconds, enabled, max_attempts, created_at, updated_at)
                    VALUES (\(bind: id), \(bind: tenant.id), 'every second', 'jobs.prune', '{}', 1, \(bind: true), 1, \(bind: now), \(bind: now))
                    """
                ).run()
            }
            return ("tenant:\(tenant.id):\(id)", tenant.id)
        }

        let log = dataDir + "/schedulers.log"
        let environment = ["SWITCHBOARD_SCHEDULER_TICK_MS": "100"]
        let first = try CommandRunner.start(["worker"] + flags, logPath: log, environment: environment)
        let second = try CommandRunner.start(["worker"] + flags, logPath: log, environment: environment)
        // Until both have fired a few periods (the suite shares two cores, so no fixed sleep).
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let ticks = try await Database.withDatabase(location, logger: TestSupport.logger) { database in
                try await database.run { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM schedule_ticks WHERE schedule = \(bind: scheduleName)").first()?
                        .decode(column: "n", as: Int.self) ?? 0
                }
            }
            if ticks >= 4 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        await CommandRunner.stop(first, signal: SIGTERM)
        await CommandRunner.stop(second, signal: SIGTERM)

        try await Database.withDatabase(location, logger: TestSupport.logger) { database in
            let ticks = try await database.run { sql in
                try await sql.raw("SELECT period, job_id FROM schedule_ticks WHERE schedule = \(bind: scheduleName) ORDER BY period").all()
            }
            let periods = try ticks.map { try $0.decode(column: "period", as: Int64.self) }
            let jobIDs = try ticks.map { try $0.decode(column: "job_id", as: String.self) }
            let logText = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(periods.count >= 3, "\(logText.suffix(3000))")
            #expect(Set(periods).count == periods.count)
            // A period that fires while the previous period's job still runs joins it (the schedule's unique
            // key): on a loaded machine two periods may share a job, but no period makes two.
            let jobs = try await JobQueue(database: database).list(.init(tenantID: tenantID, kind: "jobs.prune", limit: 500))
            #expect(jobs.count == Set(jobIDs).count && jobs.count <= periods.count, "one job per period at most (the built-in daily prune has no tenant)")
            #expect(Set(jobs.map(\.id)) == Set(jobIDs))
            #expect(jobs.filter { $0.state == .succeeded }.count >= jobs.count - 1, "\(jobs.map(\.state))")
            // Both processes were up and scheduling.
            #expect(logText.components(separatedBy: "worker started").count - 1 == 2)
        }
    }
}
