import ArgumentParser
import Foundation
import Jobs
import Logging
import SQLKit
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

/// `switchboard bench …` — repeatable measurements (run with `-c release`).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks; build with `swift run -c release switchboard bench …`.", subcommands: [BenchJobs.self, BenchIngest.self, BenchSync.self, BenchPeople.self, BenchAmoCRM.self, BenchCharts.self])
}

/// `bench jobs`: enqueue and enqueue→complete throughput, and pickup latency with idle workers.
struct BenchJobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Job queue throughput and pickup latency with 1, 4, 16 workers.",
        discussion: "SQLite in a temp directory unless --database-url names a PostgreSQL database (its jobs table is emptied).")

    @Option(help: "PostgreSQL URL; SQLite when absent.") var databaseURL: String?
    @Option(help: "Jobs per throughput run.") var jobs = 5000
    @Option(help: "Jobs in the latency run (enqueued one at a time onto idle workers).") var latencyJobs = 300
    @Option(help: "Comma-separated worker counts.") var workers = "1,4,16"
    @Option(help: "Jobs per enqueue call in the throughput run (1: one insert per job).") var batch = 100

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .error; return logger }()
        let counts = workers.split(separator: ",").compactMap { Int($0) }
        let location = try DatabaseLocation.resolve(
            databaseURL: databaseURL,
            dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path)
        let (jobs, latencyJobs, batch) = (jobs, latencyJobs, max(1, batch))
        print("backend: \(location.backend.rawValue)  jobs per run: \(jobs)  enqueue batch: \(batch)  latency samples: \(latencyJobs)")
        try await Database.withDatabase(location, logger: logger) { database in
            try await Migrator().migrate(database, logger: logger)
            for count in counts {
                try await database.run { try await $0.raw("DELETE FROM jobs").run() }
                let result = try await Self.measure(
                    database: database, workers: count, jobs: jobs, batch: batch, latencyJobs: latencyJobs, logger: logger)
                print(result)
            }
        }
    }

    static func measure(
        database: Database, workers: Int, jobs: Int, batch: Int, latencyJobs: Int, logger: Logger
    ) async throws -> String {
        let queue = JobQueue(database: database)
        let started = Mutex<[String: ContinuousClock.Instant]>([:])
        var registry = JobRegistry()
        registry.register("bench.noop") { context in
            started.withLock { $0[context.job.id] = .now }
            return nil
        }
        // Throughput: enqueue everything, then let the workers drain it.
        let enqueueStart = ContinuousClock.now
        for start in stride(from: 0, to: jobs, by: batch) {
            let news = (start..<min(jobs, start + batch)).map { _ in JobQueue.NewJob(kind: "bench.noop", maxAttempts: 1) }
            if news.count == 1 { try await queue.enqueue(news[0]) } else { try await queue.enqueue(batch: news) }
        }
        let enqueueTime = ContinuousClock.now - enqueueStart
        let worker = JobWorker(
            queue: queue, registry: registry,
            configuration: .init(concurrency: workers, lease: .seconds(60), pollInterval: .milliseconds(200)), logger: logger)
        // On PostgreSQL the latency run enqueues through a queue whose in-process notifier no worker
        // listens to, so workers wake by LISTEN/NOTIFY exactly as a job from another process would.
        let crossProcess = database.backend == .postgres
        let producer = crossProcess ? JobQueue(database: database) : queue
        var services: [any Service] = [worker]
        if crossProcess { services.append(JobWakeupListener(queue: queue, logger: logger)) }
        let group = ServiceGroup(services: services, logger: logger)
        var drainTime = Duration.zero
        var latencies: [Duration] = []
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let drainStart = ContinuousClock.now
            while try await succeeded(database) < jobs { try await Task.sleep(for: .milliseconds(20)) }
            drainTime = ContinuousClock.now - drainStart
            // Pickup latency: one job at a time onto idle workers.
            try await Task.sleep(for: .milliseconds(300))  // the listener is up and workers are waiting
            for _ in 0..<latencyJobs {
                let enqueued = ContinuousClock.now
                let id = try await producer.enqueue(.init(kind: "bench.noop", maxAttempts: 1)).job.id
                var pickup: ContinuousClock.Instant?
                while pickup == nil {
                    pickup = started.withLock { $0[id] }
                    if pickup == nil { try await Task.sleep(for: .microseconds(200)) }
                }
                latencies.append(pickup! - enqueued)
                while try await queue.find(id: id)?.state != .succeeded { try await Task.sleep(for: .microseconds(200)) }
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        latencies.sort()
        func percentile(_ p: Double) -> String {
            latencies.isEmpty ? "-" : String(format: "%.2f ms", latencies.percentileMilliseconds(p))
        }
        func rate(_ duration: Duration) -> String {
            String(format: "%.0f/s", Double(jobs) / max(Double(duration.wholeMicroseconds) / 1e6, 1e-9))
        }
        let wakeup = crossProcess ? "NOTIFY" : "in-process"
        return "workers \(workers): enqueue \(rate(enqueueTime)), enqueue→complete drain \(rate(drainTime)), pickup latency (\(wakeup) wake-up) p50 \(percentile(0.5)) p99 \(percentile(0.99))"
    }

    private static func succeeded(_ database: Database) async throws -> Int {
        try await database.run { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM jobs WHERE state = 'succeeded'").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }
}

extension Array where Element == Duration {
    /// The `p` quantile (0…1) of these latencies, sorted ascending, in milliseconds; NaN when empty.
    func percentileMilliseconds(_ p: Double) -> Double {
        guard !isEmpty else { return .nan }
        return self[Swift.min(count - 1, Int(Double(count) * p))].inSeconds * 1000
    }
}
