import Foundation
import Jobs
import Storage
import SwitchboardCore
import Synchronization
import Testing

@Suite("Batched enqueue and completion, per-tenant caps, cron and tenant schedules")
struct JobBatchTests {
    @Test("a batch enqueue skips live unique keys; a batch completion records only the owner's jobs", arguments: TestBackend.all)
    func batches(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let queue = JobQueue(database: database)
            try await queue.enqueue(.init(kind: "demo.echo", uniqueKey: "taken"))
            var batch = (0..<1_203).map { JobQueue.NewJob(kind: "demo.echo", payload: ["n": .number(Double($0))]) }
            batch.append(.init(kind: "demo.echo", uniqueKey: "taken"))
            batch.append(.init(kind: "demo.echo", runAt: Date().addingTimeInterval(3600)))
            let inserted = try await queue.enqueue(batch: batch)
            #expect(inserted.count == 1_204, "1,203 + the scheduled one; the taken key is skipped")
            #expect(inserted.filter { $0.state == .scheduled }.count == 1)
            await #expect(throws: SwitchboardError.self) { try await queue.enqueue(batch: [.init(kind: "")]) }

            let mine = try await queue.claim(owner: "w1", limit: 3, lease: .seconds(30))
            let theirs = try await queue.claim(owner: "w2", limit: 1, lease: .seconds(30))
            let completions: [(id: String, result: JSONValue?)] =
                [(mine[0].id, ["ok": true]), (mine[1].id, nil), (mine[2].id, ["n": 3]), (theirs[0].id, nil)]
            let recorded = try await queue.complete(completions, owner: "w1")
            #expect(recorded == Set(mine.map(\.id)))
            #expect(try await queue.find(id: mine[0].id)?.result == ["ok": true])
            #expect(try await queue.find(id: mine[1].id)?.result == nil)
            #expect(try await queue.find(id: mine[2].id)?.result == ["n": 3])
            #expect(try await queue.find(id: theirs[0].id)?.state == .running, "w2's job is not w1's to finish")
        }
    }

    @Test("no tenant runs more than its cap at once; others and tenant-less jobs still get workers", arguments: TestBackend.all)
    func perTenantCap(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let stores = Stores(database, secrets: TestSupport.secrets)
            let busy = try await stores.tenants.create(slug: "busy", name: "Busy").tenant
            let quiet = try await stores.tenants.create(slug: "quiet", name: "Quiet").tenant
            let queue = JobQueue(database: database)
            // The busy tenant's backlog comes first in priority order.
            try await queue.enqueue(batch: (0..<20).map { _ in .init(kind: "demo.echo", tenantID: busy.id, priority: 1) })
            try await queue.enqueue(batch: (0..<5).map { _ in .init(kind: "demo.echo", tenantID: quiet.id, priority: 2) })
            try await queue.enqueue(batch: (0..<2).map { _ in .init(kind: "demo.echo", priority: 3) })

            let first = try await queue.claim(owner: "w1", limit: 10, lease: .seconds(30), perTenant: 3)
            func count(_ jobs: [Job], _ tenant: String?) -> Int { jobs.filter { $0.tenantID == tenant }.count }
            #expect(count(first, busy.id) == 3 && count(first, quiet.id) == 3 && count(first, nil) == 2)
            // Another worker finds both tenants at their cap.
            let second = try await queue.claim(owner: "w2", limit: 10, lease: .seconds(30), perTenant: 3)
            #expect(second.isEmpty)
            // A finished job frees exactly one slot of its tenant.
            let done = try #require(first.first { $0.tenantID == busy.id })
            try await queue.complete(id: done.id, owner: "w1", result: nil)
            let third = try await queue.claim(owner: "w2", limit: 10, lease: .seconds(30), perTenant: 3)
            #expect(third.count == 1 && third.first?.tenantID == busy.id)
            // Without a cap everything runnable is taken.
            #expect(try await queue.claim(owner: "w3", limit: 100, lease: .seconds(30)).count == 20 + 5 - 7)
        }
    }

    @Test("a cron schedule fires once per firing time in the tenant's zone and skips stale ones", arguments: TestBackend.all)
    func cronSchedule(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let moscow = try #require(TimeZone(identifier: "Europe/Moscow"))
            // 2026-03-02 02:59:30 Moscow (UTC+3) = 23:59:30 UTC the day before.
            let clock = Mutex(Date(timeIntervalSince1970: 1_772_409_570))
            let schedule = Schedule(
                name: "nightly", kind: "demo.echo", cadence: .cron(try CronExpression("0 3 * * *"), timeZone: moscow), maxAttempts: 1)
            let queue = JobQueue(database: database)
            let scheduler = JobScheduler(queue: queue, now: { clock.withLock { $0 } }, logger: TestSupport.logger) { [schedule] }
            // The previous 03:00 is a day old: not made up for.
            #expect(try await scheduler.fireDue().isEmpty)
            clock.withLock { $0 = $0.addingTimeInterval(40) }  // 03:00:10
            #expect(try await scheduler.fireDue().count == 1)
            clock.withLock { $0 = $0.addingTimeInterval(600) }  // 03:10:10: same firing
            #expect(try await scheduler.fireDue().isEmpty)
            for job in try await queue.claim(owner: "w", limit: 10, lease: .seconds(10), now: Date().addingTimeInterval(1)) {
                try await queue.complete(id: job.id, owner: "w", result: nil)
            }
            clock.withLock { $0 = $0.addingTimeInterval(86_400 + 1_800) }  // next day 03:40: missed by 40 min, made up
            #expect(try await scheduler.fireDue().count == 1)
            #expect(schedule.nextFire(after: clock.withLock { $0 }) == Date(timeIntervalSince1970: 1_772_409_600 + 2 * 86_400))
        }
    }

    @Test("tenant schedules come from the database; disabled ones and deleted tenants do not fire", arguments: TestBackend.all)
    func tenantSchedules(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let stores = Stores(database, secrets: TestSupport.secrets)
            let tenant = try await stores.tenants.create(slug: "sched", name: "Sched").tenant
            let gone = try await stores.tenants.create(slug: "gone", name: "Gone").tenant
            let now = Date.storageNow
            func make(_ tenantID: String, _ name: String, enabled: Bool = true) -> TenantSchedule {
                TenantSchedule(
                    id: Identifiers.newID(), tenantID: tenantID, name: name, kind: "jobs.prune", payload: ["older_than_days": 30],
                    everySeconds: 300, enabled: enabled, maxAttempts: 2, createdAt: now, updatedAt: now)
            }
            let active = try await stores.schedules.save(make(tenant.id, "prune"))
            try await stores.schedules.save(make(tenant.id, "paused", enabled: false))
            try await stores.schedules.save(make(gone.id, "prune"))
            try await stores.tenants.softDelete(id: gone.id)
            await #expect(throws: SwitchboardError.self) { try await stores.schedules.save(make(tenant.id, "prune")) }
            var invalid = make(tenant.id, "fast")
            invalid.everySeconds = 5
            await #expect(throws: SwitchboardError.self) { try await stores.schedules.save(invalid) }

            let schedules = try await Schedule.tenantSchedules(stores.schedules)
            #expect(schedules.map(\.name) == ["tenant:\(tenant.id):\(active.id)"])
            let scheduler = JobScheduler(queue: JobQueue(database: database), logger: TestSupport.logger) { schedules }
            let fired = try await scheduler.fireDue()
            let firedID = try #require(fired.first)
            let job = try #require(try await JobQueue(database: database).find(id: firedID))
            #expect(job.tenantID == tenant.id && job.kind == "jobs.prune" && job.maxAttempts == 2)
            #expect(job.payload == ["older_than_days": 30])
            let last = try await JobScheduler.lastFired([schedules[0].name], on: database)
            #expect(last[schedules[0].name]?.jobID == job.id)
        }
    }
}
