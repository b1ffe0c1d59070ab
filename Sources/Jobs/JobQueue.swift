import Foundation
import SQLKit
import Storage
import SwitchboardCore

/// The durable job queue over the control database (SQLite or PostgreSQL).
///
/// Claims are one statement: on PostgreSQL a `FOR UPDATE SKIP LOCKED` subquery, so concurrent workers
/// never take the same row; on SQLite the single writer gives the same guarantee. A claimed job holds a
/// lease; a worker that dies stops renewing it and the job becomes runnable again when it expires, so
/// handlers must be idempotent. Completion and failure are accepted only from the lease owner.
public struct JobQueue: Sendable {
    public let database: Database
    /// Wakes workers in this process at once after an enqueue (the poll catches everything else).
    public let notifier: JobNotifier

    /// The PostgreSQL NOTIFY channel that announces new jobs.
    public static let channel = "switchboard_jobs"

    public init(database: Database, notifier: JobNotifier = JobNotifier()) {
        self.database = database
        self.notifier = notifier
    }

    /// A job to enqueue.
    public struct NewJob: Sendable {
        public var kind: String
        public var tenantID: String?
        public var payload: JSONValue
        public var priority: Int
        public var runAt: Date?
        public var maxAttempts: Int
        /// Unique among live jobs: enqueueing the same key again returns the live job instead.
        public var uniqueKey: String?

        public init(
            kind: String, tenantID: String? = nil, payload: JSONValue = .object([:]), priority: Int = 100,
            runAt: Date? = nil, maxAttempts: Int = RetryPolicy.standard.maxAttempts, uniqueKey: String? = nil
        ) {
            self.kind = kind
            self.tenantID = tenantID
            self.payload = payload
            self.priority = priority
            self.runAt = runAt
            self.maxAttempts = maxAttempts
            self.uniqueKey = uniqueKey
        }
    }

    /// Enqueues on `runner` — pass a transaction to commit the job with the domain write that needs it
    /// (the outbox). Returns the job and whether it was new (false: a live job had the unique key).
    public static func enqueue(_ new: NewJob, on runner: any SQLRunner) async throws -> (job: Job, inserted: Bool) {
        guard !new.kind.isEmpty, new.kind.count <= 100 else {
            throw SwitchboardError.invalid("kind", "kind must be 1–100 characters")
        }
        let now = Date.storageNow
        let runAt = (new.runAt ?? now).roundedToMilliseconds
        let state: JobState = runAt > now ? .scheduled : .available
        let id = Identifiers.newID()
        let payload = try JSONCoder.string(new.payload)
        let inserted = try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO jobs (id, tenant_id, kind, payload, priority, state, run_at, attempt, max_attempts,
                    unique_key, created_at, updated_at)
                VALUES (\(bind: id), \(bind: new.tenantID), \(bind: new.kind), \(bind: payload), \(bind: new.priority),
                    \(bind: state.rawValue), \(bind: runAt), 0, \(bind: max(1, new.maxAttempts)), \(bind: new.uniqueKey),
                    \(bind: now), \(bind: now))
                ON CONFLICT DO NOTHING
                RETURNING *
                """
            ).first()
        }
        if let inserted {
            if runner.backend == .postgres {
                // Delivered at commit: workers in other processes wake at once instead of at their next poll.
                try await runner.run { sql in try await sql.raw("SELECT pg_notify(\(bind: Self.channel), '')").run() }
            }
            return (try JobRow.decode(inserted), true)
        }
        guard let key = new.uniqueKey else {
            throw SwitchboardError(.internal, code: "enqueue_failed", message: "the job was not stored")
        }
        let existing = try await runner.run { sql in
            try await sql.raw(
                """
                SELECT * FROM jobs WHERE unique_key = \(bind: key)
                AND state IN ('available', 'scheduled', 'running', 'retryable')
                """
            ).first()
        }
        guard let existing else {
            // The live job finished between our insert and select: try once more.
            return try await enqueue(new, on: runner)
        }
        return (try JobRow.decode(existing), false)
    }

    /// Enqueues many jobs with multi-row inserts and one wake-up (bulk work such as a sync fanning out
    /// per entity). Jobs whose unique key is held by a live job are skipped; returns the inserted ones.
    public static func enqueue(batch: [NewJob], on runner: any SQLRunner) async throws -> [Job] {
        try await insertRows(batch, on: runner, decode: true).jobs
    }

    /// Like ``enqueue(batch:on:)`` without reading the new rows back (a hot path that needs no job back);
    /// returns how many were inserted.
    @discardableResult
    public static func enqueueCounting(batch: [NewJob], on runner: any SQLRunner) async throws -> Int {
        let (_, count) = try await insertRows(batch, on: runner, decode: false)
        return count
    }

    static func insertRows(_ batch: [NewJob], on runner: any SQLRunner, decode: Bool) async throws -> (jobs: [Job], count: Int) {
        guard !batch.isEmpty else { return ([], 0) }
        for new in batch where new.kind.isEmpty || new.kind.count > 100 {
            throw SwitchboardError.invalid("kind", "kind must be 1–100 characters")
        }
        let now = Date.storageNow
        var inserted: [Job] = []
        var count = 0
        let returning: SQLQueryString = decode ? "RETURNING *" : "RETURNING id"
        // 12 parameters a row: 500 rows stay far below SQLite's and PostgreSQL's bind limits.
        for chunk in batch.chunked(into: 500) {
            var values: [SQLQueryString] = []
            for new in chunk {
                let runAt = (new.runAt ?? now).roundedToMilliseconds
                let state: JobState = runAt > now ? .scheduled : .available
                values.append(
                    """
                    (\(bind: Identifiers.newID()), \(bind: new.tenantID), \(bind: new.kind), \(bind: try JSONCoder.string(new.payload)),
                     \(bind: new.priority), \(bind: state.rawValue), \(bind: runAt), 0, \(bind: max(1, new.maxAttempts)),
                     \(bind: new.uniqueKey), \(bind: now), \(bind: now))
                    """)
            }
            let rowValues = values.joined(separator: ", ")
            let rows = try await runner.run { sql in
                try await sql.raw(
                    """
                    INSERT INTO jobs (id, tenant_id, kind, payload, priority, state, run_at, attempt, max_attempts,
                        unique_key, created_at, updated_at)
                    VALUES \(rowValues)
                    ON CONFLICT DO NOTHING
                    \(returning)
                    """
                ).all()
            }
            count += rows.count
            if decode { inserted += try rows.map(JobRow.decode) }
        }
        if count > 0, runner.backend == .postgres {
            try await runner.run { sql in try await sql.raw("SELECT pg_notify(\(bind: Self.channel), '')").run() }
        }
        return (inserted, count)
    }

    /// Enqueues many jobs in one transaction and wakes local workers.
    @discardableResult
    public func enqueue(batch: [NewJob]) async throws -> [Job] {
        let jobs = try await database.transaction { tx in try await Self.enqueue(batch: batch, on: tx) }
        if !jobs.isEmpty { await notifier.notifyAll() }
        return jobs
    }

    /// Enqueues in its own transaction and wakes local workers.
    @discardableResult
    public func enqueue(_ new: NewJob) async throws -> (job: Job, inserted: Bool) {
        let result = try await Self.enqueue(new, on: database)
        if result.inserted { await notifier.notifyAll() }
        return result
    }

    /// Claims up to `limit` runnable jobs for `owner`, leasing them until `now + lease`.
    ///
    /// With `perTenant`, no tenant gets more than that many running jobs, counted over all workers, so
    /// one tenant's backlog cannot occupy every worker. On SQLite the cap is exact (one writer); on
    /// PostgreSQL claimers racing in the same instant may each take a tenant's last slot, so it can be
    /// exceeded briefly by the number of simultaneous claimers.
    public func claim(
        owner: String, limit: Int, lease: Duration, perTenant: Int? = nil, now: Date = .storageNow
    ) async throws -> [Job] {
        guard limit > 0 else { return [] }
        let until = now.addingTimeInterval(lease.inSeconds)
        let skipLocked = SQLQueryString(database.backend == .postgres ? "FOR UPDATE SKIP LOCKED" : "")
        let runnable: SQLQueryString = "state IN ('available', 'scheduled', 'retryable') AND run_at <= \(bind: now)"
        let selection: SQLQueryString
        if let cap = perTenant, cap > 0 {
            // Tenants at their cap are skipped outright; among the rest, each tenant's jobs are ranked so
            // one claim never takes more than the tenant's free slots.
            let running: SQLQueryString = "SELECT tenant_id, COUNT(*) AS n FROM jobs WHERE state = 'running' AND tenant_id IS NOT NULL GROUP BY tenant_id"
            selection = """
                SELECT id FROM (
                    SELECT c.id, c.tenant_id, c.priority, c.run_at, COALESCE(r.n, 0) AS running,
                        ROW_NUMBER() OVER (PARTITION BY c.tenant_id ORDER BY c.priority, c.run_at) AS position
                    FROM (
                        SELECT id, tenant_id, priority, run_at FROM jobs
                        WHERE \(runnable) AND (tenant_id IS NULL OR tenant_id NOT IN (
                            SELECT tenant_id FROM (\(running)) full_tenants WHERE n >= \(literal: cap)))
                        ORDER BY priority, run_at LIMIT \(literal: limit * 4) \(skipLocked)
                    ) c LEFT JOIN (\(running)) r ON r.tenant_id = c.tenant_id
                ) ranked
                WHERE tenant_id IS NULL OR running + position <= \(literal: cap)
                ORDER BY priority, run_at LIMIT \(literal: limit)
                """
        } else {
            selection = "SELECT id FROM jobs WHERE \(runnable) ORDER BY priority, run_at LIMIT \(literal: limit) \(skipLocked)"
        }
        let rows = try await database.run { sql in
            try await sql.raw(
                """
                UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = \(bind: owner),
                    lease_expires_at = \(bind: until), updated_at = \(bind: now)
                WHERE id IN (\(selection))
                RETURNING *
                """
            ).all()
        }
        return try rows.map(JobRow.decode).sorted { ($0.priority, $0.runAt) < ($1.priority, $1.runAt) }
    }

    /// Marks a job succeeded. Returns false when `owner` no longer holds it (its lease expired and
    /// another worker took it), so the caller knows its result was not recorded.
    @discardableResult
    public func complete(id: String, owner: String, result: JSONValue?) async throws -> Bool {
        let now = Date.storageNow
        let text = try result.map(JSONCoder.string)
        return try await database.run { sql in
            try await sql.raw(
                """
                UPDATE jobs SET state = 'succeeded', result = \(bind: text), lease_owner = NULL, lease_expires_at = NULL,
                    finished_at = \(bind: now), updated_at = \(bind: now), last_error = NULL
                WHERE id = \(bind: id) AND lease_owner = \(bind: owner) AND state = 'running'
                RETURNING id
                """
            ).first() != nil
        }
    }

    /// Marks many jobs succeeded in one statement (the worker's batched completions). Returns the ids
    /// that were recorded; the others had lost `owner`'s lease.
    public func complete(_ completions: [(id: String, result: JSONValue?)], owner: String) async throws -> Set<String> {
        guard !completions.isEmpty else { return [] }
        let now = Date.storageNow
        var resultCase = SQLQueryString("NULL")
        let withResults = try completions.compactMap { item in try item.result.map { (item.id, try JSONCoder.string($0)) } }
        if !withResults.isEmpty {
            resultCase = "CASE id"
            for (id, text) in withResults { resultCase = resultCase + " WHEN \(bind: id) THEN \(bind: text)" }
            resultCase = resultCase + " END"
        }
        let ids = completions.map(\.id)
        let resultValue = resultCase
        let rows = try await database.run { sql in
            try await sql.raw(
                """
                UPDATE jobs SET state = 'succeeded', result = \(resultValue), lease_owner = NULL, lease_expires_at = NULL,
                    finished_at = \(bind: now), updated_at = \(bind: now), last_error = NULL
                WHERE id IN (\(binds: ids)) AND lease_owner = \(bind: owner) AND state = 'running'
                RETURNING id
                """
            ).all()
        }
        return Set(try rows.map { try $0.decode(column: "id", as: String.self) })
    }

    /// Records a failure: retryable failures come back after the policy's delay (or `retryAfter`)
    /// until attempts run out; permanent failures and exhausted jobs become `dead`.
    @discardableResult
    public func fail(
        _ job: Job, owner: String, failure: JobFailure, policy: RetryPolicy, random: Double = .random(in: 0..<1)
    ) async throws -> JobState {
        let now = Date.storageNow
        var next: JobState = .dead
        var runAt = job.runAt
        // A deferred run gives its attempt back.
        var giveBack = 0
        switch failure {
        case .retryable(_, let retryAfter) where job.attempt < job.maxAttempts:
            next = .retryable
            let delay = max(policy.delay(after: job.attempt, random: random), retryAfter ?? .zero)
            runAt = now.addingTimeInterval(delay.inSeconds).roundedToMilliseconds
        case .deferred(_, let until):
            next = .retryable
            giveBack = 1
            runAt = now.addingTimeInterval(until.inSeconds).roundedToMilliseconds
        default: break
        }
        let message = String(failure.message.prefix(2000))
        let (state, retryAt, returned) = (next, runAt, giveBack)
        let finished: Date? = next == .dead ? now : nil
        let recorded = try await database.run { sql in
            try await sql.raw(
                """
                UPDATE jobs SET state = \(bind: state.rawValue), run_at = \(bind: retryAt), last_error = \(bind: message),
                    attempt = attempt - \(bind: returned),
                    lease_owner = NULL, lease_expires_at = NULL, updated_at = \(bind: now), finished_at = \(bind: finished)
                WHERE id = \(bind: job.id) AND lease_owner = \(bind: owner) AND state = 'running'
                RETURNING id
                """
            ).first() != nil
        }
        return recorded ? next : .running
    }

    /// Renews the leases `owner` holds on `ids`.
    public func extendLeases(ids: [String], owner: String, lease: Duration) async throws {
        guard !ids.isEmpty else { return }
        let until = Date.storageNow.addingTimeInterval(lease.inSeconds)
        try await database.run { sql in
            try await sql.raw(
                """
                UPDATE jobs SET lease_expires_at = \(bind: until)
                WHERE lease_owner = \(bind: owner) AND state = 'running' AND id IN (\(binds: ids))
                """
            ).run()
        }
    }

    /// Jobs whose worker died: back to `retryable` (or `dead` when out of attempts). Returns how many.
    @discardableResult
    public func rescueExpiredLeases(now: Date = .storageNow) async throws -> Int {
        try await database.run { sql in
            try await sql.raw(
                """
                UPDATE jobs SET state = CASE WHEN attempt >= max_attempts THEN 'dead' ELSE 'retryable' END,
                    last_error = 'lease expired: the worker stopped before finishing', lease_owner = NULL,
                    lease_expires_at = NULL, run_at = \(bind: now), updated_at = \(bind: now)
                WHERE state = 'running' AND lease_expires_at < \(bind: now)
                RETURNING id
                """
            ).all().count
        }
    }

    /// Cancels a job that has not finished; a running job's result is then discarded.
    public func cancel(id: String) async throws -> Job {
        let now = Date.storageNow
        let row = try await database.run { sql in
            try await sql.raw(
                """
                UPDATE jobs SET state = 'cancelled', lease_owner = NULL, lease_expires_at = NULL,
                    finished_at = \(bind: now), updated_at = \(bind: now)
                WHERE id = \(bind: id) AND state IN ('available', 'scheduled', 'running', 'retryable')
                RETURNING *
                """
            ).first()
        }
        guard let row else { throw try await notLive(id) }
        return try JobRow.decode(row)
    }

    /// Re-queues a dead or cancelled job with a fresh set of attempts.
    public func retry(id: String) async throws -> Job {
        let now = Date.storageNow
        let row = try await mapUniqueKeyConflict {
            try await database.run { sql in
                try await sql.raw(
                    """
                    UPDATE jobs SET state = 'available', attempt = 0, run_at = \(bind: now), finished_at = NULL,
                        updated_at = \(bind: now)
                    WHERE id = \(bind: id) AND state IN ('dead', 'cancelled')
                    RETURNING *
                    """
                ).first()
            }
        }
        guard let row else {
            guard try await find(id: id) != nil else { throw SwitchboardError.notFound("job") }
            throw SwitchboardError.conflict("only dead or cancelled jobs can be retried", field: "state")
        }
        await notifier.notifyAll()
        return try JobRow.decode(row)
    }

    private func mapUniqueKeyConflict<R>(_ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch where Database.isUniqueViolation(error) {
            throw SwitchboardError.conflict("a live job with the same unique key exists", field: "unique_key")
        }
    }

    private func notLive(_ id: String) async throws -> SwitchboardError {
        try await find(id: id) == nil
            ? .notFound("job") : .conflict("the job has already finished", field: "state")
    }

    public func find(id: String) async throws -> Job? {
        try await database.run { sql in
            try await sql.raw("SELECT * FROM jobs WHERE id = \(bind: id)").first()
        }.map(JobRow.decode)
    }

    /// Filters for ``list(_:)``.
    public struct Filter: Sendable {
        public var tenantID: String?
        public var kind: String?
        public var state: JobState?
        public var limit: Int

        public init(tenantID: String? = nil, kind: String? = nil, state: JobState? = nil, limit: Int = 50) {
            self.tenantID = tenantID
            self.kind = kind
            self.state = state
            self.limit = limit
        }
    }

    /// Jobs, newest first.
    public func list(_ filter: Filter) async throws -> [Job] {
        try await database.run { sql in
            var query = SQLQueryString("SELECT * FROM jobs WHERE 1 = 1")
            if let tenant = filter.tenantID { query = query + " AND tenant_id = \(bind: tenant)" }
            if let kind = filter.kind { query = query + " AND kind = \(bind: kind)" }
            if let state = filter.state { query = query + " AND state = \(bind: state.rawValue)" }
            query = query + " ORDER BY created_at DESC, id LIMIT \(literal: min(max(filter.limit, 1), 500))"
            return try await sql.raw(query).all()
        }.map(JobRow.decode)
    }

    /// Job counts by state, for `/stats` and metrics.
    public func depth() async throws -> [JobState: Int] {
        let rows = try await database.run { sql in
            try await sql.raw("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").all()
        }
        var counts: [JobState: Int] = [:]
        for row in rows {
            if let state = JobState(rawValue: try row.decode(column: "state", as: String.self)) {
                counts[state] = try row.decode(column: "n", as: Int.self)
            }
        }
        return counts
    }

    /// Deletes succeeded and cancelled jobs finished before `cutoff`; dead jobs stay for inspection.
    @discardableResult
    public func prune(finishedBefore cutoff: Date) async throws -> Int {
        try await database.run { sql in
            try await sql.raw(
                """
                DELETE FROM jobs WHERE state IN ('succeeded', 'cancelled') AND finished_at < \(bind: cutoff) RETURNING id
                """
            ).all().count
        }
    }
}
