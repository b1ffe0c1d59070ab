import Foundation
import SQLKit
import SwitchboardCore

/// Where one entity's mirror stands: its configuration, the run in progress and the checkpoints a
/// later run continues from.
public struct SyncState: Sendable, Equatable, Codable {
    public enum Phase: String, Sendable, Codable { case idle, queued, running, succeeded, failed }

    public var tenantID: String
    public var integration: String
    public var entity: String
    public var enabled = true
    public var intervalMinutes = 30
    /// Whether CRM events for this entity are applied (on by default: events are how the mirror stays fresh).
    public var webhookEnabled = true
    public var phase: Phase = .idle
    /// `full` or `incremental` — the run in progress or the last one.
    public var mode: String?
    public var jobID: String?
    /// When the current (or last) full run began: rows not seen since then are gone from the CRM.
    public var runStartedAt: Date?
    /// The last id a run in progress has stored; a resumed full run continues after it.
    public var cursorID: Int64?
    public var rowsDone: Int64 = 0
    /// How many rows the run expects to read (the CRM's count at its start), for progress and ETA.
    public var rowsTotal: Int64?
    public var rowsInMirror: Int64?
    /// The latest modification time mirrored: the next incremental run reads from here (minus an overlap).
    public var checkpointModified: Date?
    public var lastFullAt: Date?
    public var lastIncrementalAt: Date?
    public var lastError: String?
    public var updatedAt: Date?
    /// Which mirror the checkpoints describe (`MirrorDatabase.identity`; nil: Switchboard's own). When the
    /// tenant moves its mirror, the new one is empty: the next run must be full, not continue a checkpoint.
    public var mirrorLocation: String?

    public init(tenantID: String, integration: String, entity: String) {
        self.tenantID = tenantID
        self.integration = integration
        self.entity = entity
    }
}

/// One finished (or running) sync, for `GET …/sync/logs`.
public struct SyncRun: Sendable, Equatable, Codable {
    public var id: String
    public var integration: String
    public var entity: String
    public var mode: String
    public var jobID: String?
    public var status: String
    public var rowsRead: Int64
    public var rowsDeleted: Int64
    public var columnsAdded: Int
    public var error: String?
    public var startedAt: Date
    public var finishedAt: Date?
}

/// `sync_state` and `sync_runs`: per tenant, integration and entity.
public struct SyncStateRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    /// The entity's state; a fresh default when none was stored yet.
    public func load(tenantID: String, integration: String, entity: String) async throws -> SyncState {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT * FROM sync_state WHERE tenant_id = \(bind: tenantID) AND integration = \(bind: integration) AND entity = \(bind: entity)
                """
            ).first()
        }.map(Self.decode) ?? SyncState(tenantID: tenantID, integration: integration, entity: entity)
    }

    public func list(tenantID: String) async throws -> [SyncState] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM sync_state WHERE tenant_id = \(bind: tenantID) ORDER BY integration, entity").all()
        }.map(Self.decode)
    }

    /// The entities of `integration` whose CRM events the tenant turned off (`webhook_enabled: false`).
    public func eventsOff(tenantID: String, integration: String) async throws -> Set<String> {
        Set(try await list(tenantID: tenantID).filter { $0.integration == integration && !$0.webhookEnabled }.map(\.entity))
    }

    /// Every enabled entity of every tenant (for the scheduler).
    public func listEnabled() async throws -> [SyncState] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM sync_state WHERE enabled = \(bind: true) ORDER BY tenant_id, integration, entity").all()
        }.map(Self.decode)
    }

    /// Inserts or replaces the whole row.
    public func save(_ state: SyncState) async throws {
        let now = Date.storageNow
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO sync_state (tenant_id, integration, entity, enabled, interval_minutes, webhook_enabled, state, mode, job_id,
                    run_started_at, cursor_id, rows_done, rows_total, rows_in_mirror, checkpoint_modified, last_full_at, last_incremental_at, last_error, updated_at, mirror_location)
                VALUES (\(bind: state.tenantID), \(bind: state.integration), \(bind: state.entity), \(bind: state.enabled),
                    \(bind: state.intervalMinutes), \(bind: state.webhookEnabled), \(bind: state.phase.rawValue), \(bind: state.mode),
                    \(bind: state.jobID), \(bind: state.runStartedAt?.roundedToMilliseconds), \(bind: state.cursorID), \(bind: state.rowsDone), \(bind: state.rowsTotal),
                    \(bind: state.rowsInMirror), \(bind: state.checkpointModified?.roundedToMilliseconds),
                    \(bind: state.lastFullAt?.roundedToMilliseconds), \(bind: state.lastIncrementalAt?.roundedToMilliseconds),
                    \(bind: state.lastError), \(bind: now), \(bind: state.mirrorLocation))
                ON CONFLICT (tenant_id, integration, entity) DO UPDATE SET enabled = excluded.enabled,
                    interval_minutes = excluded.interval_minutes, webhook_enabled = excluded.webhook_enabled, state = excluded.state,
                    mode = excluded.mode, job_id = excluded.job_id, run_started_at = excluded.run_started_at, cursor_id = excluded.cursor_id,
                    rows_done = excluded.rows_done, rows_total = excluded.rows_total, rows_in_mirror = excluded.rows_in_mirror, checkpoint_modified = excluded.checkpoint_modified,
                    last_full_at = excluded.last_full_at, last_incremental_at = excluded.last_incremental_at,
                    last_error = excluded.last_error, updated_at = excluded.updated_at, mirror_location = excluded.mirror_location
                """
            ).run()
        }
    }

    /// Reads, changes and saves the state in one step.
    @discardableResult
    public func update(
        tenantID: String, integration: String, entity: String, _ change: (inout SyncState) throws -> Void
    ) async throws -> SyncState {
        var state = try await load(tenantID: tenantID, integration: integration, entity: entity)
        try change(&state)
        try await save(state)
        return state
    }

    // MARK: runs

    public func startRun(tenantID: String, integration: String, entity: String, mode: String, jobID: String?) async throws -> String {
        let id = Identifiers.newID()
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO sync_runs (id, tenant_id, integration, entity, mode, job_id, status, started_at)
                VALUES (\(bind: id), \(bind: tenantID), \(bind: integration), \(bind: entity), \(bind: mode), \(bind: jobID), 'running', \(bind: Date.storageNow))
                """
            ).run()
        }
        return id
    }

    public func finishRun(id: String, status: String, rowsRead: Int64, rowsDeleted: Int64, columnsAdded: Int, error: String?) async throws {
        try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE sync_runs SET status = \(bind: status), rows_read = \(bind: rowsRead), rows_deleted = \(bind: rowsDeleted),
                    columns_added = \(bind: columnsAdded), error = \(bind: error), finished_at = \(bind: Date.storageNow)
                WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    /// Runs, newest first.
    public func runs(tenantID: String, entity: String? = nil, limit: Int = 50) async throws -> [SyncRun] {
        try await runner.run { sql in
            var query = SQLQueryString("SELECT * FROM sync_runs WHERE tenant_id = \(bind: tenantID)")
            if let entity { query = query + " AND entity = \(bind: entity)" }
            query = query + " ORDER BY started_at DESC, id DESC LIMIT \(bind: max(1, min(limit, 500)))"
            return try await sql.raw(query).all()
        }.map { row in
            SyncRun(
                id: try row.decode(column: "id", as: String.self), integration: try row.decode(column: "integration", as: String.self),
                entity: try row.decode(column: "entity", as: String.self), mode: try row.decode(column: "mode", as: String.self),
                jobID: try row.decode(column: "job_id", as: String?.self), status: try row.decode(column: "status", as: String.self),
                rowsRead: try row.decode(column: "rows_read", as: Int64.self), rowsDeleted: try row.decode(column: "rows_deleted", as: Int64.self),
                columnsAdded: try row.decode(column: "columns_added", as: Int.self), error: try row.decode(column: "error", as: String?.self),
                startedAt: try row.date("started_at"), finishedAt: try row.optionalDate("finished_at"))
        }
    }

    static func decode(_ row: any SQLRow) throws -> SyncState {
        var state = SyncState(
            tenantID: try row.decode(column: "tenant_id", as: String.self), integration: try row.decode(column: "integration", as: String.self),
            entity: try row.decode(column: "entity", as: String.self))
        state.enabled = try row.decode(column: "enabled", as: Bool.self)
        state.intervalMinutes = try row.decode(column: "interval_minutes", as: Int.self)
        state.webhookEnabled = try row.decode(column: "webhook_enabled", as: Bool.self)
        state.phase = SyncState.Phase(rawValue: try row.decode(column: "state", as: String.self)) ?? .idle
        state.mode = try row.decode(column: "mode", as: String?.self)
        state.jobID = try row.decode(column: "job_id", as: String?.self)
        state.runStartedAt = try row.optionalDate("run_started_at")
        state.cursorID = try row.decode(column: "cursor_id", as: Int64?.self)
        state.rowsDone = try row.decode(column: "rows_done", as: Int64.self)
        state.rowsTotal = try row.decode(column: "rows_total", as: Int64?.self)
        state.rowsInMirror = try row.decode(column: "rows_in_mirror", as: Int64?.self)
        state.checkpointModified = try row.optionalDate("checkpoint_modified")
        state.lastFullAt = try row.optionalDate("last_full_at")
        state.lastIncrementalAt = try row.optionalDate("last_incremental_at")
        state.lastError = try row.decode(column: "last_error", as: String?.self)
        state.updatedAt = try row.optionalDate("updated_at")
        state.mirrorLocation = try row.decode(column: "mirror_location", as: String?.self)
        return state
    }
}
