import Foundation
import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore

/// A job that recurs: every `interval`, one job of `kind` (per tenant when `tenantID` is set).
public struct Schedule: Sendable, Equatable {
    /// Unique name, e.g. `jobs.prune` or `tenant:7:crm.sync:deals`.
    public var name: String
    public var kind: String
    public var tenantID: String?
    public var payload: JSONValue
    public var interval: Duration
    public var maxAttempts: Int

    public init(
        name: String, kind: String, tenantID: String? = nil, payload: JSONValue = [:], interval: Duration,
        maxAttempts: Int = RetryPolicy.standard.maxAttempts
    ) {
        self.name = name
        self.kind = kind
        self.tenantID = tenantID
        self.payload = payload
        self.interval = interval
        self.maxAttempts = maxAttempts
    }

    /// The period `date` falls in: periods are aligned to the Unix epoch, so every process agrees.
    public func period(at date: Date) -> Int64 {
        let seconds = max(Double(interval.components.seconds), 1)
        return Int64((date.timeIntervalSince1970 / seconds).rounded(.down))
    }
}

/// Fires each ``Schedule`` once per period, however many processes run a scheduler: the first to insert
/// the `(schedule, period)` row enqueues the job in the same transaction; the others find the row taken.
public struct JobScheduler: Service {
    let queue: JobQueue
    let schedules: @Sendable () async throws -> [Schedule]
    let tick: Duration
    let now: @Sendable () -> Date
    let logger: Logger

    public init(
        queue: JobQueue, tick: Duration = .seconds(5), now: @escaping @Sendable () -> Date = { Date() }, logger: Logger,
        schedules: @escaping @Sendable () async throws -> [Schedule]
    ) {
        self.queue = queue
        self.schedules = schedules
        self.tick = tick
        self.now = now
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await fireDue()
                } catch {
                    logger.warning("scheduler tick failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: tick)
            }
        }
    }

    /// Enqueues the current period's job of every schedule that has not fired yet; returns the new job ids.
    @discardableResult
    public func fireDue() async throws -> [String] {
        let date = now()
        var fired: [String] = []
        for schedule in try await schedules() {
            let period = schedule.period(at: date)
            let jobID = try await queue.database.transaction { tx -> String? in
                let claimed = try await tx.run { sql in
                    try await sql.raw(
                        """
                        INSERT INTO schedule_ticks (schedule, period, job_id, fired_at)
                        VALUES (\(bind: schedule.name), \(bind: period), '', \(bind: Date.storageNow))
                        ON CONFLICT DO NOTHING RETURNING period
                        """
                    ).first()
                }
                guard claimed != nil else { return nil }
                let job = try await JobQueue.enqueue(
                    .init(
                        kind: schedule.kind, tenantID: schedule.tenantID, payload: schedule.payload,
                        maxAttempts: schedule.maxAttempts, uniqueKey: "schedule:\(schedule.name)"),
                    on: tx
                ).job
                try await tx.run { sql in
                    try await sql.raw(
                        """
                        UPDATE schedule_ticks SET job_id = \(bind: job.id)
                        WHERE schedule = \(bind: schedule.name) AND period = \(bind: period)
                        """
                    ).run()
                }
                return job.id
            }
            if let jobID { fired.append(jobID) }
        }
        if !fired.isEmpty { await queue.notifier.notifyAll() }
        return fired
    }
}
