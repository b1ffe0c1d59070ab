import Foundation
import Hummingbird
import Jobs
import Mirror
import Storage
import SwitchboardCore

/// `/api/v1/tenants/{tenant}/sync/…`: the CRM mirror per entity, in seed 001's shapes — start a run
/// (a `mirror.sync` job), see status with progress, read and change the schedule, read past runs.
struct SyncController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.post("sync/start/{entity}", use: start)
        tenant.get("sync/status", use: status)
        tenant.get("sync/config", use: config)
        tenant.put("sync/config", use: updateConfig)
        tenant.get("sync/logs", use: logs)
        tenant.post("crm/sync-pipelines", use: syncPipelines)
    }

    /// Seed 000: queues `crm.sync-pipelines` for the tenant's CRM (`?integration=`, else its amoCRM or
    /// Bitrix24 integration) and answers with the job id to follow.
    @Sendable func syncPipelines(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        var crm = request.uri.queryParameters.get("integration")
        if crm == nil {
            for candidate in ["amocrm", "bitrix24"] where crm == nil {
                if try await services.stores.integrations.find(tenantID: tenant.id, kind: IntegrationKind(rawValue: candidate)!)?.enabled == true { crm = candidate }
            }
        }
        guard let crm, MirrorJobs.pipelineEntities[crm] != nil else {
            throw SwitchboardError.invalid("integration", "name amocrm or bitrix24 (the tenant has neither enabled)")
        }
        try await requireIntegration(tenant: tenant, crm: crm)
        let (job, inserted) = try await services.jobs.enqueue(MirrorJobs.syncPipelinesJob(tenantID: tenant.id, crm: crm))
        let view: JSONValue = [
            "job_id": .string(job.id), "integration": .string(crm), "status": .string(inserted ? "queued" : "already_queued"),
            "job_url": .string("/api/v1/jobs/\(job.id)"),
        ]
        return try JSONResponse.make(view, status: .accepted)
    }

    struct StartBody: StrictBody {
        var syncType: String?
        var integration: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case syncType = "sync_type", integration }
    }

    /// Queues a run of one entity; a run already queued or running for it is returned instead of a second one.
    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(StartBody.self, limit: services.settings.maxBodyBytes)
        let crm = body.integration ?? "bitrix24"
        let entity = try MirrorSources.entity(crm: crm, name: try context.parameters.require("entity"))
        let mode = body.syncType ?? "incremental"
        guard MirrorSync.Mode(rawValue: mode) != nil else {
            throw SwitchboardError.invalid("sync_type", "sync_type must be full or incremental, got '\(mode)'")
        }
        try await requireIntegration(tenant: tenant, crm: crm)
        let (job, inserted) = try await services.jobs.enqueue(MirrorJobs.syncJob(tenantID: tenant.id, crm: crm, entity: entity.name, mode: mode))
        if inserted {
            try await services.stores.syncStates.update(tenantID: tenant.id, integration: crm, entity: entity.name) { state in
                if state.phase != .running { state.phase = .queued }
                state.jobID = job.id
            }
        }
        return try JSONResponse.make(
            StartView(
                jobID: job.id, integration: crm, entity: entity.name, syncType: job.payload.objectValue?["mode"]?.stringValue ?? mode,
                status: inserted ? "queued" : "already_queued", jobURL: "/api/v1/jobs/\(job.id)"),
            status: .accepted)
    }

    @Sendable func status(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let states = try await allStates(tenant: tenant, crm: request.uri.queryParameters.get("integration"))
        return try JSONResponse.make(ListView(items: states.map { SyncStatusView($0, now: Date()) }))
    }

    @Sendable func config(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let states = try await allStates(tenant: tenant, crm: request.uri.queryParameters.get("integration"))
        return try JSONResponse.make(ListView(items: states.map(SyncConfigView.init)))
    }

    struct ConfigBody: StrictBody {
        var entityType: String
        var integration: String?
        var enabled: Bool?
        var syncIntervalMinutes: Int?
        var webhookEnabled: Bool?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case entityType = "entity_type", integration, enabled, syncIntervalMinutes = "sync_interval_minutes"
            case webhookEnabled = "webhook_enabled"
        }
    }

    /// Changes one entity's schedule (the fields given); the scheduler picks it up at its next tick.
    @Sendable func updateConfig(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(ConfigBody.self, limit: services.settings.maxBodyBytes)
        let crm = body.integration ?? "bitrix24"
        let entity = try MirrorSources.entity(crm: crm, name: body.entityType)
        if let minutes = body.syncIntervalMinutes, !(5...10_080).contains(minutes) {
            throw SwitchboardError.invalid("sync_interval_minutes", "sync_interval_minutes must be 5–10080 (a week)")
        }
        if body.webhookEnabled == true, !entity.incremental {
            throw SwitchboardError.invalid("webhook_enabled", "\(crm) sends no events for \(entity.name)")
        }
        let state = try await services.stores.syncStates.update(tenantID: tenant.id, integration: crm, entity: entity.name) { state in
            if let enabled = body.enabled { state.enabled = enabled }
            if let minutes = body.syncIntervalMinutes { state.intervalMinutes = minutes }
            if let webhooks = body.webhookEnabled { state.webhookEnabled = webhooks }
        }
        return try JSONResponse.make(SyncConfigView(state))
    }

    @Sendable func logs(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let entity = request.uri.queryParameters.get("entity")
        if let entity { _ = try MirrorSources.entity(crm: request.uri.queryParameters.get("integration") ?? "bitrix24", name: entity) }
        let runs = try await services.stores.syncStates.runs(tenantID: tenant.id, entity: entity, limit: try request.limitParameter() ?? 50)
        return try JSONResponse.make(ListView(items: runs.map(SyncRunView.init)))
    }

    /// Every mirrorable entity of the tenant's CRM, with defaults for entities never configured or synced.
    private func allStates(tenant: Tenant, crm: String?) async throws -> [SyncState] {
        let crm = crm ?? "bitrix24"
        guard let entities = MirrorSources.entities[crm] else {
            throw SwitchboardError.invalid("integration", "'\(crm)' cannot be mirrored")
        }
        let stored = Dictionary(
            try await services.stores.syncStates.list(tenantID: tenant.id).filter { $0.integration == crm }.map { ($0.entity, $0) },
            uniquingKeysWith: { first, _ in first })
        return entities.map { stored[$0.name] ?? SyncState(tenantID: tenant.id, integration: crm, entity: $0.name) }
    }

    private func requireIntegration(tenant: Tenant, crm: String) async throws {
        guard let kind = IntegrationKind(rawValue: crm), let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: kind)
        else {
            throw SwitchboardError.conflict("connect the \(crm) integration first (PUT /api/v1/tenants/{tenant}/integrations/\(crm))", field: "integration")
        }
        guard integration.enabled else { throw SwitchboardError.conflict("the \(crm) integration is disabled", field: "integration") }
    }
}

struct StartView: Encodable {
    var jobID, integration, entity, syncType, status, jobURL: String
    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", integration, entity, syncType = "sync_type", status, jobURL = "job_url"
    }
}

/// One entity's mirror as `GET …/sync/status` shows it.
struct SyncStatusView: Encodable {
    struct Progress: Encodable {
        var rowsDone: Int64
        var rowsTotal: Int64?
        var percent: Double?
        var rowsPerSecond: Double?
        var etaSeconds: Int?
        enum CodingKeys: String, CodingKey {
            case rowsDone = "rows_done", rowsTotal = "rows_total", percent, rowsPerSecond = "rows_per_second", etaSeconds = "eta_seconds"
        }
    }

    var integration, entity, state: String
    var mode: String?
    var jobID: String?
    var enabled: Bool
    var syncIntervalMinutes: Int
    var webhookEnabled: Bool
    var progress: Progress?
    var rowsInMirror: Int64?
    var checkpoint: Date?
    var lastFullAt, lastIncrementalAt: Date?
    var lastError: String?
    var updatedAt: Date?

    init(_ state: SyncState, now: Date) {
        integration = state.integration
        entity = state.entity
        self.state = state.phase.rawValue
        mode = state.mode
        jobID = state.jobID
        enabled = state.enabled
        syncIntervalMinutes = state.intervalMinutes
        webhookEnabled = state.webhookEnabled
        if state.phase == .running || state.phase == .failed, state.rowsDone > 0 || state.rowsTotal != nil {
            var progress = Progress(rowsDone: state.rowsDone, rowsTotal: state.rowsTotal)
            if let total = state.rowsTotal, total > 0 { progress.percent = min(100, (Double(state.rowsDone) / Double(total) * 1000).rounded() / 10) }
            if state.phase == .running, let started = state.runStartedAt, now.timeIntervalSince(started) > 0 {
                let rate = Double(state.rowsDone) / now.timeIntervalSince(started)
                progress.rowsPerSecond = (rate * 10).rounded() / 10
                if let total = state.rowsTotal, rate > 0 { progress.etaSeconds = Int(Double(max(0, total - state.rowsDone)) / rate) }
            }
            self.progress = progress
        }
        rowsInMirror = state.rowsInMirror
        checkpoint = state.checkpointModified
        lastFullAt = state.lastFullAt
        lastIncrementalAt = state.lastIncrementalAt
        lastError = state.lastError
        updatedAt = state.updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case integration, entity, state, mode, jobID = "job_id", enabled, syncIntervalMinutes = "sync_interval_minutes"
        case webhookEnabled = "webhook_enabled", progress, rowsInMirror = "rows_in_mirror", checkpoint
        case lastFullAt = "last_full_at", lastIncrementalAt = "last_incremental_at", lastError = "last_error", updatedAt = "updated_at"
    }
}

/// One entity's schedule, in seed 001's field names.
struct SyncConfigView: Encodable {
    var integration, entityType: String
    var enabled: Bool
    var syncIntervalMinutes: Int
    var webhookEnabled: Bool

    init(_ state: SyncState) {
        integration = state.integration
        entityType = state.entity
        enabled = state.enabled
        syncIntervalMinutes = state.intervalMinutes
        webhookEnabled = state.webhookEnabled
    }

    enum CodingKeys: String, CodingKey {
        case integration, entityType = "entity_type", enabled, syncIntervalMinutes = "sync_interval_minutes", webhookEnabled = "webhook_enabled"
    }
}

struct SyncRunView: Encodable {
    var id, integration, entity, syncType, status: String
    var jobID: String?
    var rowsRead, rowsDeleted: Int64
    var columnsAdded: Int
    var error: String?
    var startedAt: Date
    var finishedAt: Date?

    init(_ run: SyncRun) {
        id = run.id
        integration = run.integration
        entity = run.entity
        syncType = run.mode
        status = run.status
        jobID = run.jobID
        rowsRead = run.rowsRead
        rowsDeleted = run.rowsDeleted
        columnsAdded = run.columnsAdded
        error = run.error
        startedAt = run.startedAt
        finishedAt = run.finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, integration, entity, syncType = "sync_type", status, jobID = "job_id", rowsRead = "rows_read"
        case rowsDeleted = "rows_deleted", columnsAdded = "columns_added", error, startedAt = "started_at", finishedAt = "finished_at"
    }
}
