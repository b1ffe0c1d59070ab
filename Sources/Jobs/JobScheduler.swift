import Foundation
import Logging
import ServiceLifecycle
import Storage
import SwitchboardCore

/// How often a ``Schedule`` fires.
public enum Cadence: Sendable, Equatable {
    /// Every `interval`, in periods aligned to the Unix epoch so every process agrees.
    case every(Duration)
    /// At the times a cron expression names, on the wall clock of `timeZone`.
    case cron(CronExpression, timeZone: TimeZone)

    /// How long after its time a cron firing is still made up for when no scheduler ran then (a
    /// restart or deploy); older firings are skipped rather than run late.
    public static let cronCatchUp: TimeInterval = 3600
}

/// A job that recurs: one job of `kind` per period (per tenant when `tenantID` is set).
public struct Schedule: Sendable, Equatable {
    /// Unique name, e.g. `jobs.prune` or `tenant:7:crm.sync:deals`.
    public var name: String
    public var kind: String
    public var tenantID: String?
    public var payload: JSONValue
    public var cadence: Cadence
    public var maxAttempts: Int

    public init(
        name: String, kind: String, tenantID: String? = nil, payload: JSONValue = [:], cadence: Cadence,
        maxAttempts: Int = RetryPolicy.standard.maxAttempts
    ) {
        self.name = name
        self.kind = kind
        self.tenantID = tenantID
        self.payload = payload
        self.cadence = cadence
        self.maxAttempts = maxAttempts
    }

    /// The period `date` falls in, or nil when nothing is due (a cron time missed by more than the
    /// catch-up window). Interval periods count intervals since the epoch; cron periods are the epoch
    /// minute of the latest firing time.
    public func period(at date: Date) -> Int64? {
        switch cadence {
        case .every(let interval):
            let seconds = max(Double(interval.components.seconds), 1)
            return Int64((date.timeIntervalSince1970 / seconds).rounded(.down))
        case .cron(let expression, let timeZone):
            guard let fire = expression.previous(atOrBefore: date, in: timeZone),
                date.timeIntervalSince(fire) <= Cadence.cronCatchUp
            else { return nil }
            return Int64((fire.timeIntervalSince1970 / 60).rounded(.down))
        }
    }

    /// When the schedule fires next after `date`.
    public func nextFire(after date: Date) -> Date? {
        switch cadence {
        case .every(let interval):
            let seconds = max(Double(interval.components.seconds), 1)
            return Date(timeIntervalSince1970: ((date.timeIntervalSince1970 / seconds).rounded(.down) + 1) * seconds)
        case .cron(let expression, let timeZone):
            return expression.next(after: date, in: timeZone)
        }
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
                    // Cancelled: the process is stopping, not failing.
                    if !Task.isCancelled { logger.warning("scheduler tick failed", metadata: ["error": "\(error)"]) }
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
            guard let period = schedule.period(at: date) else { continue }
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

    /// When each named schedule last fired and the job it enqueued.
    public static func lastFired(_ names: [String], on runner: any SQLRunner) async throws -> [String: (firedAt: Date, jobID: String)] {
        guard !names.isEmpty else { return [:] }
        let rows = try await runner.run { sql in
            try await sql.raw(
                """
                SELECT t.schedule, t.fired_at, t.job_id FROM schedule_ticks t
                JOIN (SELECT schedule, MAX(period) AS period FROM schedule_ticks WHERE schedule IN (\(binds: names)) GROUP BY schedule) latest
                    ON latest.schedule = t.schedule AND latest.period = t.period
                """
            ).all()
        }
        var result: [String: (firedAt: Date, jobID: String)] = [:]
        for row in rows {
            result[try row.decode(column: "schedule", as: String.self)] = (try row.date("fired_at"), try row.decode(column: "job_id", as: String.self))
        }
        return result
    }
}
