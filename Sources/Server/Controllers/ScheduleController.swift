import Foundation
import Hummingbird
import Jobs
import Storage
import SwitchboardCore

/// `/api/v1/tenants/{tenant}/schedules`: a tenant's recurring jobs (interval or cron on the tenant's
/// time zone). Admin users manage them; the scheduler picks changes up at its next tick.
struct ScheduleController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("schedules", use: list)
        tenant.post("schedules", use: create)
        tenant.get("schedules/{id}", use: show)
        tenant.patch("schedules/{id}", use: update)
        tenant.delete("schedules/{id}", use: delete)
    }

    struct Body: StrictBody {
        var name: String?
        var kind: String?
        var payload: JSONValue?
        var cron: String?
        var everySeconds: Int?
        var enabled: Bool?
        var maxAttempts: Int?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, kind, payload, cron, enabled, everySeconds = "every_seconds", maxAttempts = "max_attempts"
        }
    }

    private func checkKind(_ kind: String) throws {
        guard services.jobPolicies[kind] != nil else {
            throw SwitchboardError.invalid(
                "kind", "unknown job kind '\(kind)'; known: \(services.jobPolicies.keys.sorted().joined(separator: ", "))")
        }
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdminUser(managing: "schedules")
        let tenant = try context.requireTenant()
        let schedules = try await services.stores.schedules.list(tenantID: tenant.id)
        return try JSONResponse.make(ListView(items: try await views(schedules, tenant: tenant)))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdminUser(managing: "schedules")
        let tenant = try context.requireTenant()
        return try JSONResponse.make(try await views([try await find(context)], tenant: tenant)[0])
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdminUser(managing: "schedules")
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(Body.self, limit: services.settings.maxBodyBytes)
        guard let name = body.name else { throw SwitchboardError.invalid("name", "name is required") }
        guard let kind = body.kind else { throw SwitchboardError.invalid("kind", "kind is required") }
        try checkKind(kind)
        let now = Date.storageNow
        let schedule = TenantSchedule(
            id: Identifiers.newID(), tenantID: tenant.id, name: name, kind: kind, payload: body.payload ?? [:], cron: body.cron,
            everySeconds: body.everySeconds, enabled: body.enabled ?? true,
            maxAttempts: body.maxAttempts ?? services.jobPolicies[kind]?.maxAttempts ?? 3, createdAt: now, updatedAt: now)
        let saved = try await services.stores.schedules.save(schedule)
        return try JSONResponse.make(try await views([saved], tenant: tenant)[0], status: .created)
    }

    /// Changes the fields given; setting `cron` clears `every_seconds` and the other way round.
    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdminUser(managing: "schedules")
        let tenant = try context.requireTenant()
        var schedule = try await find(context)
        let body = try await request.decodeJSON(Body.self, limit: services.settings.maxBodyBytes)
        if let name = body.name { schedule.name = name }
        if let kind = body.kind {
            try checkKind(kind)
            schedule.kind = kind
        }
        if let payload = body.payload { schedule.payload = payload }
        if body.cron != nil || body.everySeconds != nil {
            (schedule.cron, schedule.everySeconds) = (body.cron, body.everySeconds)
        }
        if let enabled = body.enabled { schedule.enabled = enabled }
        if let attempts = body.maxAttempts { schedule.maxAttempts = attempts }
        let saved = try await services.stores.schedules.save(schedule)
        return try JSONResponse.make(try await views([saved], tenant: tenant)[0])
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdminUser(managing: "schedules")
        try await services.stores.schedules.delete(tenantID: try context.requireTenant().id, id: try context.parameters.require("id"))
        return Response(status: .noContent)
    }

    private func find(_ context: AppRequestContext) async throws -> TenantSchedule {
        let id = try context.parameters.require("id")
        guard let schedule = try await services.stores.schedules.find(tenantID: try context.requireTenant().id, id: id) else {
            throw SwitchboardError.notFound("schedule")
        }
        return schedule
    }

    private func views(_ schedules: [TenantSchedule], tenant: Tenant) async throws -> [ScheduleView] {
        let now = Date()
        let fired = try await JobScheduler.lastFired(schedules.map { "tenant:\(tenant.id):\($0.id)" }, on: services.database)
        return schedules.map { schedule in
            let next = schedule.enabled ? (try? Schedule(schedule, timeZone: tenant.timeZone))?.nextFire(after: now) : nil
            return ScheduleView(schedule, timeZone: tenant.timeZone, nextRunAt: next, last: fired["tenant:\(tenant.id):\(schedule.id)"])
        }
    }
}

/// A tenant schedule as the API shows it, with when it runs next and what it last fired.
struct ScheduleView: Encodable {
    var id, name, kind, timeZone: String
    var payload: JSONValue
    var cron: String?
    var everySeconds: Int?
    var enabled: Bool
    var maxAttempts: Int
    var nextRunAt, lastFiredAt: Date?
    var lastJobId: String?
    var createdAt, updatedAt: Date

    init(_ schedule: TenantSchedule, timeZone: String, nextRunAt: Date?, last: (firedAt: Date, jobID: String)?) {
        id = schedule.id
        name = schedule.name
        kind = schedule.kind
        self.timeZone = timeZone
        payload = schedule.payload
        cron = schedule.cron
        everySeconds = schedule.everySeconds
        enabled = schedule.enabled
        maxAttempts = schedule.maxAttempts
        self.nextRunAt = nextRunAt
        lastFiredAt = last?.firedAt
        lastJobId = last?.jobID
        createdAt = schedule.createdAt
        updatedAt = schedule.updatedAt
    }
}
