import Access
import Analytics
import Bitrix24
import Foundation
import Jobs
import Logging
import Mirror
import Storage
import Telephony
import SwitchboardCore

/// Everything request handlers depend on, built once at start-up.
public struct AppServices: Sendable {
    public let database: Database
    public let secrets: SecretBox
    public let settings: ServerSettings
    public let stores: Stores
    public let adminTokens: AdminTokenService
    public let authenticator: Authenticator
    public let passwords: PasswordHasher
    public let stats: RequestStats
    /// The migrations this build expects; `/health` is not ready until all are applied.
    public var migrator: Migrator
    /// Connection tests per integration kind; kinds without an entry use `defaultTester`.
    public var testers: [IntegrationKind: any ConnectionTester]
    public var defaultTester: any ConnectionTester
    /// The durable job queue (the outbox of every external effect).
    public let jobs: JobQueue
    /// Request pacing per tenant + CRM account, shared by every connector in this process.
    public let rateLimiter: RateLimiter
    /// Circuit breakers per tenant + integration; their states show in `/stats`.
    public let breakers: CircuitBreakers
    /// This process's AMI connections by tenant (click-to-call, connection status).
    public let pbx = PBXConnections()
    /// PBX token → tenant and call targets, for every PBX event (seed 002's Integration Gateway cache).
    public let gateway: GatewayCache
    /// PBX events are committed through it, several at once under load (group commit).
    public let intake: IntakeBatcher
    /// Tenants' RetailCRM accounts behind their rate limits and breakers, exchanges logged.
    public let retailCRM: RetailCRMAccess
    /// Installed Bitrix24 apps' OAuth tokens, renewed once for all workers of this process.
    public let bitrix24Tokens: Bitrix24TokenKeeper
    /// amoCRM OAuth tokens, renewed once for all workers (and, on PostgreSQL, all processes).
    public let amoCRMTokens: AmoCRMTokenKeeper
    /// Concurrent Bitrix24 calls per tenant packed into batches (People bursts), shared by every worker task.
    public let bitrix24Batching = Bitrix24Coalescers()
    /// Responsible-manager lookups for inbound calls, cached, within a time budget.
    public let routes: ResponsibleManagerRouter
    /// Job kinds `POST /api/v1/jobs` accepts (those a worker in this build can run), with their retry policy.
    public var jobPolicies: [String: RetryPolicy] = [:]
    public let logger: Logger

    /// Prepares signing keys and wires the services. The database must already be migrated.
    public static func make(
        database: Database, secrets: SecretBox, settings: ServerSettings, stats: RequestStats, logger: Logger
    ) async throws -> AppServices {
        let stores = Stores(database, secrets: secrets)
        let adminTokens = AdminTokenService(store: stores.signingKeys, lifetime: settings.adminTokenLifetime)
        try await adminTokens.prepare()
        let external = settings.externalJWT.map { ExternalJWTVerifier(settings: $0) }
        let (rateLimiter, breakers) = (RateLimiter(), CircuitBreakers())
        let retailCRM = RetailCRMAccess(database: database, secrets: secrets, rateLimiter: rateLimiter, breakers: breakers)
        let jobs = JobQueue(database: database)
        let amoCRMTokens = AmoCRMTokenKeeper(database: database, secrets: secrets)
        let amoCRM = AmoCRMAccess(database: database, tokens: amoCRMTokens, rateLimiter: rateLimiter, breakers: breakers)
        var services = AppServices(
            database: database, secrets: secrets, settings: settings, stores: stores, adminTokens: adminTokens,
            authenticator: Authenticator(stores: stores, adminTokens: adminTokens, external: external),
            passwords: PasswordHasher(cost: settings.bcryptCost), stats: stats, migrator: Migrator(),
            testers: [.retailcrm: RetailCRMTester(), .amocrm: AmoCRMTester(access: amoCRM), .asterisk: AsteriskTester(logger: logger), .postgres: PostgresMirrorTester(logger: logger)],
            defaultTester: ReachabilityTester(), jobs: jobs, rateLimiter: rateLimiter, breakers: breakers,
            gateway: GatewayCache(stores: stores), intake: IntakeBatcher(intake: CallIntake(queue: jobs)), retailCRM: retailCRM,
            bitrix24Tokens: Bitrix24TokenKeeper(database: database, secrets: secrets),
            amoCRMTokens: amoCRMTokens, routes: ResponsibleManagerRouter(access: retailCRM), logger: logger)
        let registry = StandardJobs.registry(services: services)
        services.jobPolicies = Dictionary(uniqueKeysWithValues: registry.kinds.map { ($0, registry.policy(for: $0) ?? .standard) })
        return services
    }

    /// Questions → charts over the tenants' mirrors (the LLM planner when configured, the built-in one always).
    public var charts: ChartAsker {
        ChartAsker(database: database, integrations: stores.integrations, llm: settings.llm.map { LLMClient(settings: $0, logger: logger) }, logger: logger)
    }

    /// Tenants' Bitrix24 portals behind their leaky-bucket limit and breakers, exchanges logged.
    public var bitrix24: Bitrix24Access {
        Bitrix24Access(
            database: database, tokens: bitrix24Tokens, rateLimiter: rateLimiter, breakers: breakers, coalescers: bitrix24Batching)
    }

    /// Tenants' amoCRM accounts at 7 requests/s behind their breakers, exchanges logged.
    public var amoCRM: AmoCRMAccess { AmoCRMAccess(database: database, tokens: amoCRMTokens, rateLimiter: rateLimiter, breakers: breakers) }

    /// The mirror sources behind tenants' CRM integrations.
    public var mirrorSources: MirrorSources { MirrorSources(stores: stores, bitrix24: bitrix24, amoCRM: amoCRM) }

    /// Drops cached configuration after a write in this process (other processes hear PostgreSQL NOTIFY).
    public func configChanged(tenantID: String? = nil) async {
        await gateway.invalidate(tenantID: tenantID)
        await routes.invalidate(tenantID: tenantID)
    }

    func tester(for kind: IntegrationKind) -> any ConnectionTester { testers[kind] ?? defaultTester }
}
