import Foundation
import Hummingbird
import Jobs
import Mirror
import Storage
import SwitchboardCore

/// `/api/v1/jobs` and `/api/v1/workers`: enqueue known kinds, inspect, cancel, retry; see workers.
/// Super admins see every job; tenant admins only their tenant's.
struct JobController {
    let services: AppServices

    func register(on api: RouterGroup<AppRequestContext>) {
        api.post("jobs", use: enqueue)
        api.get("jobs", use: list)
        api.get("jobs/{id}", use: show)
        api.post("jobs/{id}/cancel") { request, context in try await change(context) { try await services.jobs.cancel(id: $0) } }
        api.post("jobs/{id}/retry") { request, context in try await change(context) { try await services.jobs.retry(id: $0) } }
        api.get("workers", use: workers)
    }

    /// The tenant an admin may act for: any (nil = all) for super admins, their own for tenant admins.
    private func scope(_ context: AppRequestContext) throws -> (all: Bool, tenantID: String?) {
        switch try context.requireIdentity() {
        case .admin(_, .superAdmin, _): return (true, nil)
        case .admin(_, .tenantAdmin, let tenantID): return (false, tenantID)
        default: throw SwitchboardError.forbidden("jobs are managed by admin users")
        }
    }

    struct EnqueueBody: StrictBody {
        var kind: String
        var tenant: String?
        var payload: JSONValue?
        var runAt: String?
        var priority: Int?
        var uniqueKey: String?
        var maxAttempts: Int?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case kind, tenant, payload, runAt = "run_at", priority, uniqueKey = "unique_key", maxAttempts = "max_attempts"
        }
    }

    @Sendable func enqueue(_ request: Request, context: AppRequestContext) async throws -> Response {
        let scope = try scope(context)
        let body = try await request.decodeJSON(EnqueueBody.self, limit: services.settings.maxBodyBytes)
        guard let policy = services.jobPolicies[body.kind] else {
            throw SwitchboardError.invalid(
                "kind", "unknown job kind '\(body.kind)'; known: \(services.jobPolicies.keys.sorted().joined(separator: ", "))")
        }
        var tenantID: String?
        if let key = body.tenant { tenantID = try await services.stores.tenants.require(key).id }
        if !scope.all {
            guard tenantID == nil || tenantID == scope.tenantID else { throw SwitchboardError.notFound("tenant", field: "tenant") }
            tenantID = scope.tenantID
        }
        var runAt: Date?
        if let text = body.runAt {
            guard let date = ISO8601DateFormatter().date(from: text) else {
                throw SwitchboardError.invalid("run_at", "run_at must be an ISO 8601 time")
            }
            runAt = date
        }
        if let attempts = body.maxAttempts, !(1...100).contains(attempts) {
            throw SwitchboardError.invalid("max_attempts", "max_attempts must be 1–100")
        }
        if let payload = body.payload, payload.objectValue == nil {
            throw SwitchboardError.invalid("payload", "payload must be a JSON object")
        }
        // A sync of an entity shares its one live job with the schedule and the sync API: two runs would
        // write over each other's checkpoint.
        var uniqueKey = body.uniqueKey
        if uniqueKey == nil, [MirrorJobs.sync, MirrorJobs.crmSync].contains(body.kind), let tenantID, let payload = body.payload?.objectValue,
            let entity = payload["entity"]?.stringValue
        {
            uniqueKey = MirrorJobs.uniqueKey(tenantID: tenantID, crm: payload["integration"]?.stringValue ?? "bitrix24", entity: entity)
        }
        let (job, inserted) = try await services.jobs.enqueue(
            .init(
                kind: body.kind, tenantID: tenantID, payload: body.payload ?? [:], priority: body.priority ?? 100,
                runAt: runAt, maxAttempts: body.maxAttempts ?? policy.maxAttempts, uniqueKey: uniqueKey))
        return try JSONResponse.make(JobView(job, deduplicated: !inserted), status: inserted ? .created : .ok)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let scope = try scope(context)
        let query = request.uri.queryParameters
        var filter = JobQueue.Filter()
        if let key = query.get("tenant") { filter.tenantID = try await services.stores.tenants.require(key).id }
        if !scope.all {
            guard filter.tenantID == nil || filter.tenantID == scope.tenantID else {
                throw SwitchboardError.notFound("tenant", field: "tenant")
            }
            filter.tenantID = scope.tenantID
        }
        filter.kind = query.get("kind")
        if let state = query.get("state") {
            guard let parsed = JobState(rawValue: state) else {
                throw SwitchboardError.invalid("state", "state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.state = parsed
        }
        if let limit = try request.limitParameter() { filter.limit = limit }
        return try JSONResponse.make(ListView(items: try await services.jobs.list(filter).map { JobView($0) }))
    }

    private func visibleJob(_ context: AppRequestContext) async throws -> Job {
        let scope = try scope(context)
        let id = try context.parameters.require("id")
        guard let job = try await services.jobs.find(id: id), scope.all || job.tenantID == scope.tenantID else {
            throw SwitchboardError.notFound("job", field: "id")
        }
        return job
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try JSONResponse.make(JobView(try await visibleJob(context)))
    }

    private func change(_ context: AppRequestContext, _ action: (String) async throws -> Job) async throws -> Response {
        let job = try await visibleJob(context)
        return try JSONResponse.make(JobView(try await action(job.id)))
    }

    @Sendable func workers(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireSuperAdmin()
        let now = Date()
        struct WorkerView: Encodable {
            var id, hostname: String
            var pid, concurrency, inFlight: Int
            var alive: Bool
            var startedAt, heartbeatAt: Date
            var stoppedAt: Date?
        }
        let workers = try await WorkerRegistry(database: services.database).recent().map {
            WorkerView(
                id: $0.id, hostname: $0.hostname, pid: $0.pid, concurrency: $0.concurrency, inFlight: $0.inFlight,
                alive: $0.isAlive(now: now), startedAt: $0.startedAt, heartbeatAt: $0.heartbeatAt, stoppedAt: $0.stoppedAt)
        }
        return try JSONResponse.make(ListView(items: workers))
    }
}

/// A job on the wire.
struct JobView: Encodable {
    var id, kind, state: String
    var tenantId: String?
    var payload: JSONValue
    var priority, attempt, maxAttempts: Int
    var runAt, createdAt, updatedAt: Date
    var finishedAt: Date?
    var uniqueKey, lastError: String?
    var result: JSONValue?
    /// True when the enqueue matched a live job with the same unique key instead of adding one.
    var deduplicated: Bool?

    init(_ job: Job, deduplicated: Bool? = nil) {
        id = job.id
        kind = job.kind
        state = job.state.rawValue
        tenantId = job.tenantID
        payload = job.payload
        priority = job.priority
        attempt = job.attempt
        maxAttempts = job.maxAttempts
        runAt = job.runAt
        createdAt = job.createdAt
        updatedAt = job.updatedAt
        finishedAt = job.finishedAt
        uniqueKey = job.uniqueKey
        lastError = job.lastError
        result = job.result
        self.deduplicated = deduplicated
    }
}
