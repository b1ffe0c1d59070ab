import AmoCRM
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Jobs
import Logging
import Mirror
import NIOCore
import Prometheus
import Sandbox
import Server
import ServiceLifecycle
import Storage
import SwitchboardCore

/// `bench amocrm`: an amoCRM account of N leads (the Sandbox emulator, with the real limit of 7 requests
/// in any second) mirrored through the engine at our pace, against the limit's floor and the SDK's default
/// page of 50; then amoCRM webhook deliveries acknowledged through the real router, against a bare route.
struct BenchAmoCRM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amocrm",
        abstract: "amoCRM mirror speed at the real rate limit, and webhook acks/s with latency vs. a bare route.",
        discussion: "SQLite in a temp directory unless --database-url names a PostgreSQL database.")

    @Option(help: "PostgreSQL URL; SQLite when absent.") var databaseURL: String?
    @Option(help: "Leads in the emulated account.") var leads = 50_000
    @Option(help: "Webhook deliveries to acknowledge (0: skip).") var webhooks = 4000
    @Option(help: "Concurrent client connections for the webhooks.") var concurrency = 16

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .error; return logger }()
        let location = try DatabaseLocation.resolve(
            databaseURL: databaseURL,
            dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path)
        let (leads, webhooks, concurrency) = (max(1, leads), max(0, webhooks), max(1, concurrency))
        print("backend: \(location.backend.rawValue)  leads: \(leads)  account limit: 7 requests in any second (amoCRM Sandbox emulator)")
        try await Database.withDatabase(location, logger: logger) { database in
            try await Migrator().migrate(database, logger: logger)
            let secrets = try SecretBox(key: Array(repeating: 7, count: 32))
            let services = try await AppServices.make(
                database: database, secrets: secrets, settings: ServerSettings(port: 0), stats: RequestStats(registry: PrometheusCollectorRegistry()),
                logger: logger)
            let slug = "bench-amo-\(Identifiers.randomToken(prefix: "", bytes: 4).lowercased().filter { $0.isLetter || $0.isNumber })"
            let tenant = try await TenantProvisioning.create(database: database, secrets: secrets, slug: slug, name: "Bench amoCRM")
            let account = AmoCRMEmulator(leads: leads, contacts: max(1, leads / 4), seed: 3)
            try await SandboxServer.withAmoCRM(account) { base in
                let secret = "amoh_bench_secret_0123456789"
                _ = try await services.stores.integrations.save(
                    tenantID: tenant.tenant.id, kind: .amocrm,
                    change: .init(enabled: true, settings: ["base_url": .string(base)], secrets: ["long_lived_token": .some(account.accessToken), "webhook_secret": .some(secret)]))
                try await Self.mirror(services, tenantID: tenant.tenant.id, account: account, leads: leads, logger: logger)
                if webhooks > 0 {
                    try await Self.hooks(services, tenantID: tenant.tenant.id, secret: secret, deliveries: webhooks, concurrency: concurrency, logger: logger)
                }
            }
        }
    }

    /// A full mirror of the leads through `MirrorSources` (production pacing, breaker, integration log).
    static func mirror(_ services: AppServices, tenantID: String, account: AmoCRMEmulator, leads: Int, logger: Logger) async throws {
        let source = try await services.mirrorSources.source(tenantID: tenantID, crm: "amocrm", event: "bench")
        let started = ContinuousClock.now
        let outcome = try await MirrorDatabase.with(tenantID: tenantID, main: services.database, integrations: services.stores.integrations) { mirror in
            let sync = MirrorSync(source: source, mirror: mirror, states: services.stores.syncStates, tenantID: tenantID, logger: logger)
            return try await sync.run(try sync.entity(named: "lead"), mode: .full)
        }
        let elapsed = ContinuousClock.now - started
        let requests = await account.requestCount
        // Our pace lets 1 + 6 requests into any second: the first is free, the rest take 1/6 s each.
        let floor = Double(max(requests - 1, 0)) / 6
        let sdkFloor = Double((leads + 49) / 50) / 7
        print(String(
            format: "mirror: %d leads in %.1f s (%.0f rows/s), %d requests, %d refused (429), busiest second %d; limit floor %.1f s (%.2f× it)",
            outcome.rowsInMirror, elapsed.inSeconds, Double(outcome.rowsInMirror) / max(elapsed.inSeconds, 1e-9), requests, await account.rejectedCount,
            await account.busiestSecond, floor, elapsed.inSeconds / max(floor, 1e-9)))
        print(String(
            format: "        the SDK's default (pages of 50, 7 requests/s, no other work): ≥ %.1f s — %.1f× ours", sdkFloor, sdkFloor / max(elapsed.inSeconds, 1e-9)))
    }

    /// Form-encoded deliveries (one lead update each) to the hook address, and the same count to a bare route.
    static func hooks(_ services: AppServices, tenantID: String, secret: String, deliveries: Int, concurrency: Int, logger: Logger) async throws {
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))
        do {
            try await hooks(services, client: client, tenantID: tenantID, secret: secret, deliveries: deliveries, concurrency: concurrency, logger: logger)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    static func hooks(
        _ services: AppServices, client: HTTPClient, tenantID: String, secret: String, deliveries: Int, concurrency: Int, logger: Logger
    ) async throws {
        try await BenchServers.run(services, logger: logger) { barePort, appPort in
            let bound = ["bare": barePort, "switchboard": appPort]
            let hook = "http://127.0.0.1:\(bound["switchboard"]!)/hooks/amocrm/\(tenantID)/\(secret)"
            let ok = "http://127.0.0.1:\(bound["bare"]!)/ok"
            _ = try await load(client, url: ok, deliveries: 200, concurrency: concurrency)
            _ = try await load(client, url: hook, deliveries: 200, concurrency: concurrency)
            let ceiling = try await load(client, url: ok, deliveries: deliveries, concurrency: concurrency)
            let acked = try await load(client, url: hook, deliveries: deliveries, concurrency: concurrency)
            print("bare route (ceiling)      " + ceiling.summary)
            print("amoCRM webhooks (queued)  " + acked.summary)
            print(String(format: "ratio: %.0f %% of the bare route's throughput", acked.rate / ceiling.rate * 100))
            let queued = try await services.jobs.list(.init(tenantID: tenantID, kind: MirrorJobs.apply, limit: 500)).count
            print("queued apply jobs: \(queued == 500 ? "≥ 500" : String(queued)) (one per delivery; no workers run)")
        }
    }

    /// Posts `deliveries` amoCRM-shaped forms over `concurrency` connections.
    static func load(_ client: HTTPClient, url: String, deliveries: Int, concurrency: Int) async throws -> BenchIngest.Result {
        try await BenchLoad.run(client, items: deliveries, concurrency: concurrency) { number in
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "User-Agent", value: "amoCRM-Webhooks/3.0")
            request.body = .bytes(ByteBuffer(string: FormURLEncoding.encode([
                ("leads[update][0][id]", String(number % 1000 + 1)), ("leads[update][0][name]", "Сделка \(number)"),
                ("leads[update][0][status_id]", "40166524"), ("leads[update][0][pipeline_id]", "4122859"),
                ("leads[update][0][last_modified]", String(1_700_000_000 + number)), ("account[subdomain]", "sandbox"), ("account[id]", "29175955"),
            ])))
            return [request]
        }
    }
}
