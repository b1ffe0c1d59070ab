import Access
import AmoCRM
import Bitrix24
import Foundation
import Jobs
import SQLKit
import Storage
import SwitchboardCore

/// Finds the mirror source behind a tenant's CRM integration.
public struct MirrorSources: Sendable {
    public let stores: Stores
    public let bitrix24: Bitrix24Access
    public let amoCRM: AmoCRMAccess

    public init(stores: Stores, bitrix24: Bitrix24Access, amoCRM: AmoCRMAccess) {
        self.stores = stores
        self.bitrix24 = bitrix24
        self.amoCRM = amoCRM
    }

    /// The CRMs that can be mirrored, with their entities (known without asking the CRM).
    public static let entities: [String: [MirrorEntity]] = [
        "bitrix24": Bitrix24MirrorSource.allEntities, "amocrm": AmoCRMMirrorSource.allEntities,
    ]

    /// The entity `name` of `crm`, or a 400 naming what exists.
    public static func entity(crm: String, name: String) throws -> MirrorEntity {
        guard let entities = entities[crm] else {
            throw SwitchboardError.invalid("integration", "'\(crm)' cannot be mirrored; expected one of \(entities.keys.sorted().joined(separator: ", "))")
        }
        guard let entity = entities.first(where: { $0.name == name }) else {
            throw SwitchboardError.invalid("entity", "\(crm) has no entity '\(name)'; expected one of \(entities.map(\.name).joined(separator: ", "))")
        }
        return entity
    }

    /// A source reading the tenant's CRM now; fails permanently when the integration is missing or off.
    public func source(tenantID: String, crm: String, event: String = "mirror.sync") async throws -> any MirrorSource {
        guard let kind = IntegrationKind(rawValue: crm), Self.entities[crm] != nil else {
            throw JobFailure.permanent("'\(crm)' cannot be mirrored")
        }
        guard let integration = try await stores.integrations.find(tenantID: tenantID, kind: kind) else {
            throw JobFailure.permanent("the tenant has no \(crm) integration")
        }
        guard integration.enabled else { throw JobFailure.permanent("the tenant's \(crm) integration is disabled") }
        switch kind {
        case .bitrix24: return Bitrix24MirrorSource(client: try bitrix24.client(integration, event: event))
        case .amocrm:
            return AmoCRMMirrorSource(client: try amoCRM.client(integration, event: event), mapping: try AmoCRMAccess.mapping(integration))
        default: throw JobFailure.permanent("'\(crm)' cannot be mirrored")
        }
    }
}

/// The mirror's job kinds: `mirror.sync` (a full, incremental or automatic run of one entity) and
/// `mirror.apply` (re-read records a CRM event named).
public struct MirrorJobs: Sendable {
    public static let sync = "mirror.sync"
    public static let apply = "mirror.apply"
    /// Seed 000's `crm:sync-pipelines`: the pipelines, their stages and the users, read whole, now.
    public static let syncPipelines = "crm.sync-pipelines"
    /// Another name of `mirror.sync`, for callers of the jobs API who think in CRMs.
    public static let crmSync = "crm.sync"
    /// The reference lists `crm.sync-pipelines` reads, per CRM.
    public static let pipelineEntities = ["amocrm": ["pipeline", "status", "user"], "bitrix24": ["category", "status", "user"]]
    /// How often an `auto` run is a full one (which also finds deletions) instead of incremental.
    public static let reconcileInterval: TimeInterval = 86_400

    public let database: Database
    public let sources: MirrorSources

    public init(database: Database, sources: MirrorSources) {
        self.database = database
        self.sources = sources
    }

    /// The one live sync job of an entity: a manual start and the schedule share it.
    public static func uniqueKey(tenantID: String, crm: String, entity: String) -> String {
        "schedule:" + scheduleName(tenantID: tenantID, crm: crm, entity: entity)
    }

    static func scheduleName(tenantID: String, crm: String, entity: String) -> String { "mirror:\(tenantID):\(crm):\(entity)" }

    /// A sync job of `entity`; `mode` is `full`, `incremental` or `auto`.
    public static func syncJob(tenantID: String, crm: String, entity: String, mode: String) -> JobQueue.NewJob {
        JobQueue.NewJob(
            kind: sync, tenantID: tenantID, payload: ["integration": .string(crm), "entity": .string(entity), "mode": .string(mode)],
            maxAttempts: 5, uniqueKey: uniqueKey(tenantID: tenantID, crm: crm, entity: entity))
    }

    /// A job re-reading `ids` of `entity` after CRM events.
    public static func applyJob(tenantID: String, crm: String, entity: String, ids: [Int64]) -> JobQueue.NewJob {
        JobQueue.NewJob(
            kind: apply, tenantID: tenantID,
            payload: ["integration": .string(crm), "entity": .string(entity), "ids": .array(ids.map { .number(Double($0)) })],
            maxAttempts: 10)
    }

    /// One `auto` sync per enabled entity, every `interval_minutes`.
    public static func schedules(_ enabled: [SyncState]) -> [Schedule] {
        enabled.filter { $0.intervalMinutes > 0 }.map { state in
            Schedule(
                name: scheduleName(tenantID: state.tenantID, crm: state.integration, entity: state.entity), kind: sync,
                tenantID: state.tenantID,
                payload: ["integration": .string(state.integration), "entity": .string(state.entity), "mode": "auto"],
                cadence: .every(.seconds(state.intervalMinutes * 60)), maxAttempts: 5)
        }
    }

    /// A `crm.sync-pipelines` job for the tenant's `crm`.
    public static func syncPipelinesJob(tenantID: String, crm: String) -> JobQueue.NewJob {
        JobQueue.NewJob(
            kind: syncPipelines, tenantID: tenantID, payload: ["integration": .string(crm)], maxAttempts: 5,
            uniqueKey: syncPipelinesKey(tenantID: tenantID, crm: crm))
    }

    static func syncPipelinesKey(tenantID: String, crm: String) -> String { "sync-pipelines:\(tenantID):\(crm)" }

    /// Whether a job with this unique key is running now (two runs of one entity would share its checkpoint).
    func running(_ uniqueKey: String) async throws -> Bool {
        try await database.run { sql in
            try await sql.raw("SELECT id FROM jobs WHERE unique_key = \(bind: uniqueKey) AND state = 'running'").first() != nil
        }
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(Self.syncPipelines, policy: RetryPolicy(maxAttempts: 5, backoff: .exponential(base: .seconds(10), cap: .seconds(300))), timeout: .seconds(600)) { context in
            guard let tenantID = context.job.tenantID, let tenant = try await sources.stores.tenants.find(tenantID) else {
                throw JobFailure.permanent("crm.sync-pipelines needs an existing tenant")
            }
            let crm = context.job.payload.objectValue?["integration"]?.stringValue ?? "amocrm"
            guard let names = Self.pipelineEntities[crm] else {
                throw JobFailure.permanent("payload.integration must be one of \(Self.pipelineEntities.keys.sorted().joined(separator: ", ")), got '\(crm)'")
            }
            // One run per entity at a time: a scheduled sync of one of these lists goes first (the waits are
            // jittered, so two jobs that found each other running do not keep meeting).
            for name in names where try await running(Self.uniqueKey(tenantID: tenant.id, crm: crm, entity: name)) {
                throw JobFailure.deferred("a sync of \(crm) \(name) is running", until: .milliseconds(Int64.random(in: 2_000...8_000)))
            }
            return try await withSync(tenant: tenant, crm: crm, context: context) { sync in
                var outcomes: [String: JSONValue] = [:]
                for name in names {
                    let entity = try MirrorSources.entity(crm: crm, name: name)
                    let outcome = try await sync.run(entity, mode: .full, jobID: context.job.id)
                    outcomes[name] = ["rows": .number(Double(outcome.rowsInMirror)), "deleted": .number(Double(outcome.rowsDeleted))]
                }
                return .object(outcomes)
            }
        }
        // `crm.sync` is the name for the same job (payload `{integration, entity, mode}`).
        for kind in [Self.sync, Self.crmSync] {
            registry.register(
                kind, policy: RetryPolicy(maxAttempts: 5, backoff: .exponential(base: .seconds(10), cap: .seconds(600))),
                timeout: .seconds(6 * 3600)
            ) { context in
                let (tenant, crm, entity, payload) = try await target(context)
                if Self.pipelineEntities[crm]?.contains(entity.name) == true, try await running(Self.syncPipelinesKey(tenantID: tenant.id, crm: crm)) {
                    throw JobFailure.deferred("crm.sync-pipelines is reading \(crm)'s lists", until: .milliseconds(Int64.random(in: 2_000...8_000)))
                }
                let requested = payload["mode"]?.stringValue ?? "auto"
                return try await withSync(tenant: tenant, crm: crm, context: context) { sync in
                    let mode: MirrorSync.Mode
                    switch requested {
                    case "full": mode = .full
                    case "incremental": mode = .incremental
                    case "auto":
                        let state = try await sync.states.load(tenantID: tenant.id, integration: crm, entity: entity.name)
                        let due = state.lastFullAt.map { Date().timeIntervalSince($0) > Self.reconcileInterval } ?? true
                        mode = due ? .full : .incremental
                    default: throw JobFailure.permanent("payload.mode must be full, incremental or auto, got '\(requested)'")
                    }
                    let outcome = try await sync.run(entity, mode: mode, jobID: context.job.id)
                    return try JSONValue(encoding: outcome)
                }
            }
        }
        registry.register(Self.apply, policy: .standard, timeout: .seconds(600)) { context in
            let (tenant, crm, entity, payload) = try await target(context)
            let ids = (payload["ids"]?.arrayValue ?? []).compactMap { $0.intValue.map(Int64.init) }
            guard !ids.isEmpty else { throw JobFailure.permanent("payload.ids must list record ids") }
            return try await withSync(tenant: tenant, crm: crm, context: context) { sync in
                let (stored, deleted) = try await sync.apply(entity, ids: ids)
                return ["stored": .number(Double(stored)), "deleted": .number(Double(deleted))]
            }
        }
    }

    private func target(_ context: JobContext) async throws -> (Tenant, String, MirrorEntity, [String: JSONValue]) {
        guard let tenantID = context.job.tenantID else { throw JobFailure.permanent("\(context.job.kind) needs a tenant") }
        guard let tenant = try await sources.stores.tenants.find(tenantID) else { throw JobFailure.permanent("tenant \(tenantID) is gone") }
        let payload = context.job.payload.objectValue ?? [:]
        let crm = payload["integration"]?.stringValue ?? "bitrix24"
        let entity: MirrorEntity
        do {
            entity = try MirrorSources.entity(crm: crm, name: payload["entity"]?.stringValue ?? "")
        } catch let error as SwitchboardError {
            throw JobFailure.permanent(error.message)
        }
        return (tenant, crm, entity, payload)
    }

    private func withSync(
        tenant: Tenant, crm: String, context: JobContext, _ body: @Sendable (MirrorSync) async throws -> JSONValue
    ) async throws -> JSONValue {
        let source = try await sources.source(tenantID: tenant.id, crm: crm)
        return try await MirrorDatabase.with(tenantID: tenant.id, main: database, integrations: sources.stores.integrations) { mirror in
            let sync = MirrorSync(
                source: source, mirror: mirror, states: SyncStateRepository(database), tenantID: tenant.id,
                defaultCountry: tenant.defaultCountry, logger: context.logger)
            return try await body(sync)
        }
    }
}
