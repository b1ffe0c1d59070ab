import Foundation
import Jobs
import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization
import Testing

@Suite("Job queue on SQLite and PostgreSQL")
struct JobQueueTests {
    @Test("enqueue, claim, complete; scheduled jobs wait for their time", arguments: TestBackend.all)
    func lifecycle(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let queue = JobQueue(database: database)
            let (job, inserted) = try await queue.enqueue(.init(kind: "demo.echo", payload: ["n": 1]))
            #expect(inserted && job.state == .available)
            let later = try await queue.enqueue(.init(kind: "demo.echo", runAt: Date().addingTimeInterval(3600))).job
            #expect(later.state == .scheduled)

            let claimed = try await queue.claim(owner: "w1", limit: 10, lease: .seconds(30))
            #expect(claimed.map(\.id) == [job.id])
            #expect(claimed.first?.attempt == 1 && claimed.first?.state == .running)
            #expect(try await queue.claim(owner: "w2", limit: 10, lease: .seconds(30)).isEmpty)

            // Only the lease owner may finish it.
            #expect(try await queue.complete(id: job.id, owner: "w2", result: nil) == false)
            #expect(try await queue.complete(id: job.id, owner: "w1", result: ["ok": true]))
            let done = try #require(try await queue.find(id: job.id))
            #expect(done.state == .succeeded && done.result == ["ok": true] && done.finishedAt != nil)

            let future = try await queue.claim(owner: "w1", limit: 10, lease: .seconds(30), now: Date().addingTimeInterval(7200))
            #expect(future.map(\.id) == [later.id])
            #expect(try await queue.depth()[.succeeded] == 1)
        }
    }

    @Test("unique keys: one live job per key; a finished job frees the key", arguments: TestBackend.all)
    func uniqueKeys(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let queue = JobQueue(database: database)
            let first = try await queue.enqueue(.init(kind: "sync", uniqueKey: "sync tenant 7 deals"))
            let second = try await queue.enqueue(.init(kind: "sync", uniqueKey: "sync tenant 7 deals"))
            #expect(first.inserted && !second.inserted && second.job.id == first.job.id)
            let claimed = try await queue.claim(owner: "w", limit: 1, lease: .seconds(30))
            #expect(try await queue.enqueue(.init(kind: "sync", uniqueKey: "sync tenant 7 deals")).inserted == false)
            try await queue.complete(id: claimed[0].id, owner: "w", result: nil)
            #expect(try await queue.enqueue(.init(kind: "sync", uniqueKey: "sync tenant 7 deals")).inserted)
        }
    }

    @Test("retryable failures back off per policy, then die; dead jobs can be retried", arguments: TestBackend.all)
    func retriesAndDeadLetters(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let queue = JobQueue(database: database)
            let seed003 = RetryPolicy(maxAttempts: 3, backoff: .fixed([.seconds(2), .seconds(4)]))
            let job = try await queue.enqueue(.init(kind: "lead.create", maxAttempts: 3)).job
            var now = Date.storageNow
            var delays: [TimeInterval] = []
            for attempt in 1...3 {
                let claimed = try #require(try await queue.claim(owner: "w", limit: 1, lease: .seconds(30), now: now).first)
                #expect(claimed.attempt == attempt)
                let state = try await queue.fail(claimed, owner: "w", failure: .retryable("CRM 503"), policy: seed003)
                let after = try #require(try await queue.find(id: job.id))
                if attempt < 3 {
                    #expect(state == .retryable)
                    delays.append(after.runAt.timeIntervalSince(after.updatedAt))
                    now = after.runAt
                } else {
                    #expect(state == .dead && after.lastError == "CRM 503" && after.finishedAt != nil)
                }
            }
            #expect(delays.map { $0.rounded() } == [2, 4])

            let retried = try await queue.retry(id: job.id)
            #expect(retried.state == .available && retried.attempt == 0)

            // A permanent failure dies at once with the CRM's message.
            let claimed = try #require(try await queue.claim(owner: "w", limit: 1, lease: .seconds(30)).first)
            #expect(try await queue.fail(claimed, owner: "w", failure: .permanent("Missing phone number"), policy: seed003) == .dead)
            #expect(try await queue.find(id: job.id)?.lastError == "Missing phone number")

            // Retry-After wins over a shorter backoff.
            let other = try await queue.enqueue(.init(kind: "x", maxAttempts: 5)).job
            let otherClaim = try #require(try await queue.claim(owner: "w", limit: 1, lease: .seconds(30)).first)
            try await queue.fail(otherClaim, owner: "w", failure: .retryable("429", retryAfter: .seconds(60)), policy: seed003)
            let waiting = try #require(try await queue.find(id: other.id))
            #expect(waiting.runAt.timeIntervalSince(waiting.updatedAt).rounded() == 60)
        }
    }

    @Test("full-jitter exponential backoff stays within its ceiling")
    func backoffSchedule() {
        let policy = RetryPolicy(maxAttempts: 10, backoff: .exponential(base: .seconds(1), cap: .seconds(30)))
        #expect(policy.delay(after: 1, random: 0.999) < .seconds(1))
        #expect(policy.delay(after: 3, random: 0.5) == .seconds(2))
        #expect(policy.delay(after: 20, random: 0.999) <= .seconds(30))
        #expect(policy.delay(after: 4, random: 0) == .zero)
        let seed004 = RetryPolicy(maxAttempts: 4, backoff: .fixed([.zero, .seconds(5), .seconds(30)]))
        #expect((1...4).map { seed004.delay(after: $0, random: 0.5) } == [.zero, .seconds(5), .seconds(30), .seconds(30)])
    }

    @Test("an expired lease makes the job runnable again; the old owner cannot finish it", arguments: TestBackend.all)
    func leaseExpiry(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let queue = JobQueue(database: database)
            let job = try await queue.enqueue(.init(kind: "x", maxAttempts: 2)).job
            _ = try await queue.claim(owner: "dead-worker", limit: 1, lease: .seconds(1))
            let later = Date().addingTimeInterval(5)
            #expect(try await queue.rescueExpiredLeases(now: later) == 1)
            let again = try await queue.claim(owner: "live-worker", limit: 1, lease: .seconds(30), now: later)
            #expect(again.first?.id == job.id && again.first?.attempt == 2)
            #expect(try await queue.complete(id: job.id, owner: "dead-worker", result: nil) == false)
            #expect(try await queue.complete(id: job.id, owner: "live-worker", result: nil))
        }
    }

    @Test("concurrent claimers never take the same job", arguments: TestBackend.all)
    func concurrentClaims(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let queue = JobQueue(database: database)
            for index in 0..<200 { _ = try await queue.enqueue(.init(kind: "x", payload: ["i": .number(Double(index))])) }
            let claimedIDs = try await withThrowingTaskGroup(of: [String].self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var mine: [String] = []
                        while true {
                            let batch = try await queue.claim(owner: "w\(worker)", limit: 7, lease: .seconds(30))
                            if batch.isEmpty { return mine }
                            mine += batch.map(\.id)
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0 += $1 }
            }
            #expect(claimedIDs.count == 200)
            #expect(Set(claimedIDs).count == 200)
        }
    }

    @Test("a worker runs jobs, retries failures and stops gracefully", arguments: TestBackend.all)
    func worker(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let queue = JobQueue(database: database)
            let effects = Mutex<[String: Int]>([:])
            var registry = JobRegistry()
            registry.register("count") { context in
                effects.withLock { $0[context.job.id, default: 0] += 1 }
                return ["seen": .number(Double(context.job.attempt))]
            }
            registry.register("flaky", policy: .init(maxAttempts: 3, backoff: .fixed([.zero]))) { context in
                if context.job.attempt < 2 { throw JobFailure.retryable("first attempt fails") }
                return nil
            }
            var ids: [String] = []
            for _ in 0..<20 { ids.append(try await queue.enqueue(.init(kind: "count")).job.id) }
            let flaky = try await queue.enqueue(.init(kind: "flaky", maxAttempts: 3)).job.id
            let unknown = try await queue.enqueue(.init(kind: "nobody.handles.this")).job.id

            let worker = JobWorker(
                queue: queue, registry: registry,
                configuration: .init(concurrency: 4, lease: .seconds(30), pollInterval: .milliseconds(50)),
                logger: TestSupport.logger)
            let group = ServiceGroup(services: [worker], logger: TestSupport.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let deadline = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < deadline {
                    let done = try await queue.list(.init(state: .succeeded, limit: 500)).count
                    if done == 21, try await queue.find(id: unknown)?.state == .dead { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            #expect(effects.withLock { $0.count } == 20)
            #expect(effects.withLock { $0.values.allSatisfy { $0 == 1 } })
            #expect(try await queue.find(id: flaky)?.state == .succeeded)
            #expect(try await queue.find(id: flaky)?.attempt == 2)
            #expect(try await queue.find(id: unknown)?.lastError?.contains("no handler") == true)
            let workers = try await WorkerRegistry(database: database).recent()
            #expect(workers.count == 1 && workers[0].stoppedAt != nil)
        }
    }

    @Test("the outbox: a job enqueued in a rolled-back transaction never exists", arguments: TestBackend.all)
    func outbox(backend: TestBackend) async throws {
        struct Abort: Error {}
        try await TestSupport.withDatabase(backend) { database in
            let queue = JobQueue(database: database)
            _ = try? await database.transaction { tx in
                _ = try await TenantRepository(tx, secrets: TestSupport.secrets).create(slug: "acme", name: "Acme")
                _ = try await JobQueue.enqueue(.init(kind: "welcome"), on: tx)
                throw Abort()
            }
            #expect(try await queue.list(.init()).isEmpty)
            try await database.transaction { tx in
                let (tenant, _) = try await TenantRepository(tx, secrets: TestSupport.secrets).create(slug: "acme", name: "Acme")
                _ = try await JobQueue.enqueue(.init(kind: "welcome", tenantID: tenant.id), on: tx)
            }
            #expect(try await queue.list(.init()).count == 1)
        }
    }
}

@Suite("PostgreSQL NOTIFY wakes workers in other processes")
struct JobWakeupTests {
    @Test(.enabled(if: TestBackend.all.contains(.postgres)))
    func notifyWakesAnotherQueue() async throws {
        try await TestSupport.withDatabase(.postgres) { database in
            // Two queues with separate in-process notifiers stand for two processes.
            let producer = JobQueue(database: database)
            let consumer = JobQueue(database: database)
            var registry = JobRegistry()
            registry.register("ping") { _ in nil }
            let worker = JobWorker(
                queue: consumer, registry: registry,
                configuration: .init(concurrency: 1, pollInterval: .seconds(30)), logger: TestSupport.logger)
            let group = ServiceGroup(
                services: [worker, JobWakeupListener(queue: consumer, logger: TestSupport.logger)], logger: TestSupport.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                try await Task.sleep(for: .milliseconds(500))  // the worker is now waiting out its 30 s poll
                let id = try await producer.enqueue(.init(kind: "ping")).job.id
                let started = ContinuousClock.now
                while ContinuousClock.now - started < .seconds(25), try await producer.find(id: id)?.state != .succeeded {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(ContinuousClock.now - started < .seconds(20), "only NOTIFY can wake the worker before its 30 s poll")
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}

@Suite("Scheduler")
struct JobSchedulerTests {
    @Test("two schedulers (two processes) fire each period exactly once", arguments: TestBackend.all)
    func oncePerPeriod(backend: TestBackend) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
            let schedules: @Sendable () async throws -> [Schedule] = {
                [Schedule(name: "jobs.prune", kind: "jobs.prune", cadence: .every(.seconds(60)), maxAttempts: 1)]
            }
            let first = JobScheduler(queue: JobQueue(database: database), now: { clock.withLock { $0 } }, logger: TestSupport.logger, schedules: schedules)
            let second = JobScheduler(queue: JobQueue(database: database), now: { clock.withLock { $0 } }, logger: TestSupport.logger, schedules: schedules)
            var fired = 0
            for _ in 0..<3 {
                // Both race within one period, several times.
                let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                    for scheduler in [first, second, first, second] { group.addTask { try await scheduler.fireDue().count } }
                    return try await group.reduce(0, +)
                }
                #expect(counts == 1)
                fired += counts
                // Finish the job so its unique key would not hide a second firing.
                let queue = JobQueue(database: database)
                for job in try await queue.claim(owner: "w", limit: 10, lease: .seconds(10), now: Date().addingTimeInterval(1)) {
                    try await queue.complete(id: job.id, owner: "w", result: nil)
                }
                clock.withLock { $0 = $0.addingTimeInterval(60) }
            }
            #expect(fired == 3)
            #expect(try await JobQueue(database: database).list(.init(kind: "jobs.prune")).count == 3)
        }
    }
}

@Suite("Worker wake-ups")
struct WakeSignalTests {
    @Test("a wait released by a signal leaves no stale wake-up: the next wait sleeps its timeout (an idle worker does not spin)")
    func noStaleWakeUp() async throws {
        let signal = WakeSignal()
        let early = Task {
            try await Task.sleep(for: .milliseconds(50))
            await signal.signal()
        }
        await signal.wait(timeout: .seconds(5))
        try await early.value
        for _ in 0..<3 {
            let started = ContinuousClock.now
            await signal.wait(timeout: .milliseconds(200))
            #expect(ContinuousClock.now - started >= .milliseconds(150))
        }
        // A signal with nobody waiting still wakes the next wait at once.
        // Thresholds sit far from the timeout: on 2 busy cores a test can wait seconds for a thread.
        await signal.signal()
        let started = ContinuousClock.now
        await signal.wait(timeout: .seconds(60))
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test("a cancelled wait returns at once, with or without a timeout (a stopping worker never hangs on it)", .timeLimit(.minutes(2)))
    func cancelledWait() async throws {
        let signal = WakeSignal()
        for timeout in [Duration?.none, .seconds(60)] {
            let started = ContinuousClock.now
            let waiter = Task {
                if let timeout { await signal.wait(timeout: timeout) } else { await signal.wait() }
            }
            try await Task.sleep(for: .milliseconds(50))
            waiter.cancel()
            await waiter.value
            // Far below the 60 s timeout: a starved CI pool may delay the wake-up by seconds, a missed cancellation by the whole timeout.
            #expect(ContinuousClock.now - started < .seconds(30))
        }
        // Cancelled tasks start waiting already cancelled, too.
        let late = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await signal.wait(timeout: .seconds(30))
        }
        await late.value
    }
}
