import Foundation
import Logging
import Storage
import SwitchboardCore

/// Copies one CRM entity into the tenant's mirror.
///
/// - **Full**: reads every record in id order (the source's keyset export), upserting page by page and
///   saving the last id after each page, so a run that dies resumes after its last stored page with no
///   gaps and no duplicates. At the end, rows the run never saw are marked deleted, and the mirror's live
///   rows must equal the CRM's count (after one catch-up pass for changes made during the run) — a
///   mismatch fails the run instead of passing silently.
/// - **Incremental**: reads records changed since the last successful run's start minus ``overlap``
///   (clock skew between us and the CRM, and changes committed while the last run was reading).
/// - **Apply**: re-reads a few records by id (from CRM events) and marks the missing ones deleted.
///
/// New fields found mid-run (a record carries a field the metadata did not) refresh the schema at once.
public struct MirrorSync: Sendable {
    public enum Mode: String, Sendable, Codable, CaseIterable {
        case full, incremental
    }

    /// What a finished run did.
    public struct Outcome: Sendable, Equatable, Codable {
        public var mode: Mode
        public var rowsRead: Int64
        public var rowsDeleted: Int64
        public var columnsAdded: Int
        public var rowsInMirror: Int64
        public var resumed: Bool
    }

    public let source: any MirrorSource
    public let mirror: MirrorDatabase
    /// `sync_state` / `sync_runs` in the main database.
    public let states: SyncStateRepository
    public let tenantID: String
    public var defaultCountry: String
    /// How far back an incremental run starts before the last checkpoint.
    public var overlap: TimeInterval = 600
    /// A run that stopped longer ago than this starts over instead of resuming.
    public var resumeWindow: TimeInterval = 86_400
    public var logger: Logger
    /// Called after every stored page with the state as saved (for progress bars).
    public var onProgress: @Sendable (SyncState) async -> Void = { _ in }

    public init(
        source: any MirrorSource, mirror: MirrorDatabase, states: SyncStateRepository, tenantID: String, defaultCountry: String = "RU",
        logger: Logger
    ) {
        self.source = source
        self.mirror = mirror
        self.states = states
        self.tenantID = tenantID
        self.defaultCountry = defaultCountry
        self.logger = logger
    }

    var writer: MirrorWriter { MirrorWriter(mirror: mirror, crm: source.crm, defaultCountry: defaultCountry) }

    /// The entity named `name`, or a 400 naming the valid ones.
    public func entity(named name: String) throws -> MirrorEntity {
        guard let entity = source.entities.first(where: { $0.name == name }) else {
            throw SwitchboardError.invalid(
                "entity", "\(source.crm) has no entity '\(name)'; expected one of \(source.entities.map(\.name).joined(separator: ", "))")
        }
        return entity
    }

    /// Runs a sync of `entity`. An incremental run with no checkpoint yet (or of a reference list) runs full.
    public func run(_ entity: MirrorEntity, mode requested: Mode, jobID: String? = nil) async throws -> Outcome {
        var state = try await states.load(tenantID: tenantID, integration: source.crm, entity: entity.name)
        // Checkpoints taken on another mirror (the tenant moved it) say nothing about this one: start over.
        let sameMirror = state.mirrorLocation == mirror.identity
        let mode: Mode = requested == .incremental && entity.incremental && state.checkpointModified != nil && sameMirror ? .incremental : .full
        let now = Date.storageNow
        let resumable = sameMirror && (state.phase == .running || state.phase == .failed) && state.mode == mode.rawValue && state.cursorID != nil
        let resumed = resumable && state.runStartedAt.map { now.timeIntervalSince($0) < resumeWindow } == true
        if !resumed {
            state.runStartedAt = now
            state.cursorID = nil
            state.rowsDone = 0
        }
        let started = state.runStartedAt ?? now
        state.phase = .running
        state.mode = mode.rawValue
        state.mirrorLocation = mirror.identity
        state.jobID = jobID
        state.lastError = nil
        try await states.save(state)
        let runID = try await states.startRun(tenantID: tenantID, integration: source.crm, entity: entity.name, mode: mode.rawValue, jobID: jobID)
        var log = logger
        log[metadataKey: "entity"] = "\(entity.name)"
        log[metadataKey: "sync_mode"] = "\(mode.rawValue)"
        log.info("mirror sync started", metadata: ["resumed": "\(resumed)", "after_id": "\(state.cursorID.map(String.init) ?? "-")"])
        var columnsAdded = 0
        var rowsRead: Int64 = 0
        do {
            if mode == .full, let total = try? await source.count(entity) {
                state.rowsTotal = Int64(total)
                try await states.save(state)
            }
            var reader = PageReader(sync: self, entity: entity)
            try await reader.prepare()
            let since = mode == .incremental ? state.checkpointModified!.addingTimeInterval(-overlap) : nil
            rowsRead += try await reader.readAll(after: state.cursorID, modifiedSince: since, state: &state)
            var deleted: Int64 = 0
            if mode == .full {
                state.cursorID = nil
                try await states.save(state)
                deleted = Int64(try await writer.markUnseenDeleted(entity, since: started, at: .storageNow))
                var live = try await writer.liveCount(entity)
                var crm = try await source.count(entity) ?? live  // no count: the source's read is gap-free by itself
                if live != crm {
                    // Records added or changed while the run was reading ids it had passed: one more pass.
                    log.notice("mirror count differs after a full read; catching up", metadata: ["mirror": "\(live)", "crm": "\(crm)"])
                    rowsRead += try await reader.readAll(after: nil, modifiedSince: started.addingTimeInterval(-overlap), state: &state)
                    live = try await writer.liveCount(entity)
                    crm = try await source.count(entity) ?? live
                }
                guard live == crm else {
                    throw SwitchboardError(
                        .unavailable, code: "mirror_count_mismatch",
                        message: "after a full sync the mirror holds \(live) live \(entity.name) rows but \(source.crm) reports \(crm)")
                }
                state.lastFullAt = .storageNow
            } else {
                if let since, let gone = try await source.deletedIDs(entity, since: since), !gone.isEmpty {
                    deleted = Int64(try await writer.markDeleted(entity, ids: gone, at: .storageNow))
                }
                state.lastIncrementalAt = .storageNow
            }
            columnsAdded = reader.columnsAdded
            state.phase = .succeeded
            state.cursorID = nil
            state.checkpointModified = started
            state.rowsInMirror = Int64(try await writer.liveCount(entity))
            try await states.save(state)
            try await states.finishRun(id: runID, status: "succeeded", rowsRead: rowsRead, rowsDeleted: deleted, columnsAdded: columnsAdded, error: nil)
            log.info("mirror sync finished", metadata: ["rows": "\(rowsRead)", "deleted": "\(deleted)", "live": "\(state.rowsInMirror ?? 0)"])
            return Outcome(
                mode: mode, rowsRead: rowsRead, rowsDeleted: deleted, columnsAdded: columnsAdded, rowsInMirror: state.rowsInMirror ?? 0,
                resumed: resumed)
        } catch {
            let message = Database.describe(error)
            state.phase = .failed
            state.lastError = message
            try? await states.save(state)
            try? await states.finishRun(id: runID, status: "failed", rowsRead: rowsRead, rowsDeleted: 0, columnsAdded: columnsAdded, error: message)
            log.warning("mirror sync failed", metadata: ["error": "\(message)", "after_id": "\(state.cursorID.map(String.init) ?? "-")"])
            throw error
        }
    }

    /// Re-reads `ids` of `entity` (a CRM event said they changed): upserts the ones the CRM has and marks
    /// the others deleted. Returns how many were stored and how many were marked deleted.
    public func apply(_ entity: MirrorEntity, ids: [Int64]) async throws -> (stored: Int, deleted: Int) {
        guard !ids.isEmpty else { return (0, 0) }
        var reader = PageReader(sync: self, entity: entity)
        try await reader.prepare(fromCatalog: true)
        let records = try await source.records(entity, ids: ids)
        try await reader.store(records)
        let found = Set(records.map(\.id))
        let deleted = try await writer.markDeleted(entity, ids: ids.filter { !found.contains($0) }, at: .storageNow)
        return (records.count, deleted)
    }
}

/// Reads pages from the source and stores them, keeping the schema in step with what the pages carry.
struct PageReader {
    let sync: MirrorSync
    let entity: MirrorEntity
    var fields: [CRMField] = []
    var columns: [MirrorColumn] = []
    var known: Set<String> = []
    var columnsAdded = 0
    /// Metadata is re-read at most once per run for unknown keys (some keys are never in the metadata).
    var refreshed = false

    init(sync: MirrorSync, entity: MirrorEntity) {
        self.sync = sync
        self.entity = entity
    }

    /// Loads the fields: from the CRM, or (for a few records from an event) from the catalog when it has them.
    mutating func prepare(fromCatalog: Bool = false) async throws {
        if fromCatalog {
            let catalog = try await MirrorCatalog(sync.mirror).columns(table: entity.table)
            let stored = catalog.filter(\.active).compactMap(\.field)
            if !stored.isEmpty {
                fields = stored
                columns = catalog
                known = Set(fields.map(\.code))
                return
            }
        }
        try await refresh()
    }

    mutating func refresh() async throws {
        fields = try await sync.source.fields(entity)
        let (columns, changes) = try await sync.writer.schema.ensure(entity, fields: fields)
        self.columns = columns
        known = Set(fields.map(\.code))
        columnsAdded += changes.added.count
        if !changes.isEmpty {
            sync.logger.notice(
                "mirror schema changed",
                metadata: [
                    "table": "\(entity.table)", "added": "\(changes.added)", "deactivated": "\(changes.deactivated)",
                    "retyped": "\(changes.retyped)",
                ])
        }
    }

    /// Stores records, first refreshing the schema if they carry fields it does not know.
    mutating func store(_ records: [CRMRecord]) async throws {
        if !refreshed, records.contains(where: { $0.values.keys.contains { !known.contains($0) } }) {
            refreshed = true
            try await refresh()
        }
        let hasMulti = fields.contains(where: \.isMultiField)
        var multi: [Int64: [CRMMultiValue]]? = hasMulti ? [:] : nil
        if hasMulti {
            for record in records { multi?[record.id] = sync.source.multiValues(record, fields: fields) }
        }
        try await sync.writer.upsert(entity, columns: columns, records: records, multiValues: multi, syncedAt: .storageNow)
    }

    /// Reads every page after `after` and stores it, saving the cursor after each; returns the rows read.
    /// The next page is requested while the current one is written (its start is the current page's last
    /// id), so the CRM round trip and the database write overlap instead of taking turns.
    mutating func readAll(after start: Int64?, modifiedSince: Date?, state: inout SyncState) async throws -> Int64 {
        let source = sync.source
        let entity = entity
        func fetch(after: Int64?, previous: Int) -> Task<CRMPage, any Error> {
            Task { try await source.page(entity, afterID: after, modifiedSince: modifiedSince, previousCount: previous) }
        }
        var after = start
        var read: Int64 = 0
        var next = fetch(after: after, previous: 0)
        // A failed write or a cancelled run must not leave a request running behind it.
        defer { next.cancel() }
        while true {
            let page = try await next.value
            var last = after ?? Int64.min
            for record in page.records {
                guard record.id > last else {
                    throw SwitchboardError(
                        .unavailable, code: "mirror_order",
                        message: "\(sync.source.crm) returned \(entity.name) id \(record.id) after id \(last): pages must ascend")
                }
                last = record.id
            }
            guard page.isLast || !page.records.isEmpty else {
                throw SwitchboardError(
                    .unavailable, code: "mirror_empty_page",
                    message: "\(sync.source.crm) returned an empty page of \(entity.name) that was not the last")
            }
            if !page.isLast { next = fetch(after: page.records.last?.id, previous: page.records.count) }
            try await store(page.records)
            read += Int64(page.records.count)
            if let id = page.records.last?.id { after = id }
            state.cursorID = after
            state.rowsDone += Int64(page.records.count)
            try await sync.states.save(state)
            await sync.onProgress(state)
            if page.isLast { return read }
        }
    }
}
