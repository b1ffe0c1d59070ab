import Foundation
import Hummingbird
import Storage
import SwitchboardCore
import Telephony

/// `/health`, `/stats`, `/metrics`, `/openapi.json`.
struct OpsController {
    let services: AppServices

    func register(on router: Router<AppRequestContext>) {
        router.get("/health", use: health)
        router.get("/health/live") { _, _ in try JSONResponse.make(["status": "up"]) }
        router.get("/stats", use: stats)
        router.get("/metrics", use: metrics)
        router.get("/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json)))
        }
    }

    /// Admin routes: `POST /api/v1/cache/invalidate` (`{"tenant": …}` for one tenant, empty for all).
    func registerAdmin(on api: RouterGroup<AppRequestContext>) {
        api.post("cache/invalidate", use: invalidate)
    }

    struct InvalidateBody: StrictBody {
        var tenant: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case tenant }
    }

    /// Drops cached configuration here and, on PostgreSQL, in every instance (the same NOTIFY writes send).
    @Sendable func invalidate(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireSuperAdmin()
        let body = request.headers[.contentType] == nil ? InvalidateBody() : try await request.decodeJSON(InvalidateBody.self, limit: 4096)
        var tenantID: String?
        if let name = body.tenant {
            guard let tenant = try await services.stores.tenants.find(name) else { throw SwitchboardError.notFound("tenant", field: "tenant") }
            tenantID = tenant.id
        }
        await services.configChanged(tenantID: tenantID)
        try await ConfigChanges.announce(on: services.database)
        return try JSONResponse.make(["invalidated": tenantID ?? "all"])
    }

    struct Component: Encodable {
        var status: String
        var detail: String
    }

    struct Health: Encodable {
        var status: String
        var live: Bool
        var ready: Bool
        var version: String
        var components: [String: Component]
    }

    /// Liveness is implied by answering; readiness needs the database and current migrations. 503 when not ready.
    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> Response {
        var components: [String: Component] = [:]
        let started = ContinuousClock.now
        do {
            try await services.database.ping()
            let elapsed = ContinuousClock.now - started
            components["database"] = .init(
                status: "up",
                detail: "\(services.database.backend.rawValue), round trip \(elapsed.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 1))))")
            let applied = try await services.migrator.appliedVersions(services.database)
            let latest = services.migrator.latestVersion
            let current = applied.last ?? 0
            components["migrations"] = .init(
                status: current == latest ? "current" : (current < latest ? "pending" : "ahead"),
                detail: "schema version \(current), this build expects \(latest)")
        } catch {
            context.logger.warning("health check failed", metadata: ["error": "\(error)"])
            components["database"] = .init(status: "down", detail: "database unreachable")
        }
        let ready = components["database"]?.status == "up" && components["migrations"]?.status == "current"
        let body = Health(
            status: ready ? "ok" : "degraded", live: true, ready: ready, version: SwitchboardVersion.current,
            components: components)
        return try JSONResponse.make(body, status: ready ? .ok : .serviceUnavailable)
    }

    struct Stats: Encodable {
        var uptimeSeconds: Int
        var requests: RequestStats.TenantCounters
        var tenants: [String: RequestStats.TenantCounters]
        var tenantCount: Int
        /// Jobs by state (available, running, retryable, dead…).
        var jobs: [String: Int]
        /// Circuit breaker state per tenant + integration (`closed`, `open`, `half_open`).
        var breakers: [String: String]
        /// The PBX-token gateway cache: entries, hits, misses, hit ratio, load times.
        var gatewayCache: GatewayCache.Stats
    }

    @Sendable func stats(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await checkOpsAccess(request, context: context)
        let snapshot = services.stats.snapshot()
        return try JSONResponse.make(
            Stats(
                uptimeSeconds: Int(Date().timeIntervalSince(services.stats.startedAt)), requests: snapshot.totals,
                tenants: snapshot.tenants, tenantCount: try await services.stores.tenants.list().count,
                jobs: Dictionary(uniqueKeysWithValues: try await services.jobs.depth().map { ($0.key.rawValue, $0.value) }),
                breakers: await services.breakers.snapshot(), gatewayCache: await services.gateway.stats()))
    }

    @Sendable func metrics(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await checkOpsAccess(request, context: context)
        for (state, count) in try await services.jobs.depth() {
            services.stats.registry.makeGauge(
                descriptor: .init(metricName: "jobs", unitName: "count", helpText: "Jobs by state"), labels: [("state", state.rawValue)]
            ).set(Double(count))
        }
        var buffer: [UInt8] = []
        services.stats.registry.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    /// With an ops token configured, `/stats` and `/metrics` need it (or a super admin).
    private func checkOpsAccess(_ request: Request, context: AppRequestContext) async throws {
        guard let token = services.settings.opsToken, !token.isEmpty else { return }
        let header = request.headers[.authorization] ?? ""
        guard header.lowercased().hasPrefix("bearer ") else { throw SwitchboardError.unauthorized }
        let presented = String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)
        if Identifiers.constantTimeEquals(presented, token) { return }
        guard (try? await services.authenticator.authenticate(bearer: presented))?.isSuperAdmin == true else {
            throw SwitchboardError.unauthorized
        }
    }
}

/// The version reported by `/health` and `switchboard --version`.
public enum SwitchboardVersion {
    public static let current = "0.1.0"
}
