import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Sandbox
import Server
import ServiceLifecycle
import Storage
import SwitchboardCore

/// `bench people`: N people created through the People API while workers write them to the emulated
/// Bitrix24 (its real limit: 2 requests/s, burst 50) — API latency, time until every lead exists, and how
/// many portal requests that took (concurrent calls travel together in `batch` requests).
struct BenchPeople: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "people",
        abstract: "People API: creates/s and p99 through the API, and the time until all leads exist in the emulated Bitrix24.",
        discussion: """
            The portal is the Bitrix24 Sandbox emulator on loopback with Bitrix24's leaky bucket (2 requests/s, burst 50). \
            Workers run in the same process as the API (SWITCHBOARD_WORKERS-like settings below). SQLite in a temp \
            directory unless --database-url names a PostgreSQL database (a tenant is added to it).
            """)

    @Option(help: "PostgreSQL URL; SQLite when absent.") var databaseURL: String?
    @Option(help: "People to create.") var people = 10_000
    @Option(help: "Concurrent API connections.") var concurrency = 16
    @Option(help: "Jobs the worker runs at once.") var workers = 8
    @Option(help: "Most jobs of one tenant at once.") var perTenant = 4
    @Option(help: "Give up waiting for the leads after this many seconds.") var timeout = 3600

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .error; return logger }()
        let location = try DatabaseLocation.resolve(
            databaseURL: databaseURL,
            dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path)
        let (count, concurrency, workers, perTenant) = (max(1, people), max(1, concurrency), max(1, workers), max(1, perTenant))
        print("backend: \(location.backend.rawValue)  people: \(count)  API connections: \(concurrency)  workers: \(workers) (≤ \(perTenant) per tenant)")
        print("portal: Bitrix24 Sandbox emulator, 2 requests/s, burst 50")
        let emulator = Bitrix24Emulator(seed: 42)
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))
        do {
            try await measure(client: client, emulator: emulator, location: location, logger: logger)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func measure(client: HTTPClient, emulator: Bitrix24Emulator, location: DatabaseLocation, logger: Logger) async throws {
        let (count, concurrency, workers, perTenant, timeout) = (max(1, people), max(1, concurrency), max(1, workers), max(1, perTenant), timeout)
        try await SandboxServer.withBitrix24(emulator) { portal in
            try await Database.withDatabase(location, logger: logger) { database in
                try await Migrator().migrate(database, logger: logger)
                let secrets = try SecretBox(key: Array(repeating: 7, count: 32))
                let services = try await AppServices.make(
                    database: database, secrets: secrets, settings: ServerSettings(port: 0),
                    stats: RequestStats(registry: PrometheusCollectorRegistry()), logger: logger)
                let slug = "bench-people-\(UUID().uuidString.prefix(6).lowercased())"
                let tenant = try await TenantProvisioning.create(database: database, secrets: secrets, slug: slug, name: "Bench")
                _ = try await services.stores.integrations.save(
                    tenantID: tenant.tenant.id, kind: .bitrix24,
                    change: .init(enabled: true, settings: ["portal_url": .string(portal)], secrets: ["webhook_url": "\(portal)/rest/1/\(emulator.webhookCode)/"]))
                let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
                let app = Application(
                    router: buildRouter(services: services), configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "Switchboard"),
                    onServerRunning: { portSink.yield($0.localAddress?.port ?? 0); portSink.finish() }, logger: logger)
                let jobs = JobServices.make(services: services, settings: WorkerSettings(concurrency: workers, perTenant: perTenant))
                let group = ServiceGroup(services: [app] + jobs, logger: logger)
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    var port = 0
                    for await bound in ports { port = bound }
                    let url = "http://127.0.0.1:\(port)/api/v1/tenants/\(slug)/people"
                    let started = ContinuousClock.now
                    let api = try await Self.create(client, url: url, token: tenant.apiTokenPlaintext, people: count, concurrency: concurrency)
                    let apiDone = ContinuousClock.now - started
                    print(String(format: "API: %d creates in %.2f s = %.0f/s   p50 %.2f ms   p99 %.2f ms   errors %d",
                                 api.latencies.count, apiDone.inSeconds, Double(api.latencies.count) / max(apiDone.inSeconds, 1e-9),
                                 api.percentile(0.5), api.percentile(0.99), api.failures))
                    // Wait for every person to be in step, reporting progress.
                    let people = PersonRepository(database)
                    var lastReport = ContinuousClock.now
                    var synced = 0
                    while ContinuousClock.now - started < .seconds(timeout) {
                        synced = try await people.countSynced(tenantID: tenant.tenant.id)
                        if synced >= count { break }
                        if ContinuousClock.now - lastReport >= .seconds(15) {
                            lastReport = .now
                            print(String(format: "  … %d/%d in step after %.0f s", synced, count, (ContinuousClock.now - started).inSeconds))
                        }
                        try await Task.sleep(for: .milliseconds(250))
                    }
                    let elapsed = ContinuousClock.now - started
                    let leads = await emulator.count(.lead)
                    let requests = await emulator.requestCount
                    let rejected = await emulator.rejectedCount
                    let peak = await emulator.maxObservedRate
                    let calls = await emulator.methodCalls
                    let floor = Double(max(0, requests - 50)) / 2
                    print(String(format: "all in step: %d/%d people after %.1f s (%.0f people/s)", synced, count, elapsed.inSeconds,
                                 Double(synced) / max(elapsed.inSeconds, 1e-9)))
                    print("portal: \(leads) leads (expected \(count)); \(requests) requests, \(rejected) refused by its bucket, peak \(peak)/s")
                    print("methods: " + ["batch", "crm.lead.add", "crm.duplicate.findbycomm", "crm.lead.list", "crm.lead.update"]
                        .map { name in "\(name) \(calls.filter { $0 == name }.count)" }.joined(separator: ", "))
                    print(String(format: "rate-limit floor for %d requests: %.1f s → %.2f× the floor", requests, floor, elapsed.inSeconds / max(floor, 1e-9)))
                    print(String(format: "one request per call (no batch) would need ≥ %.0f s", Double(max(0, calls.count - 50)) / 2))
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
        }
    }

    struct Load {
        var latencies: [Duration]
        var failures: Int
        func percentile(_ p: Double) -> Double { latencies.percentileMilliseconds(p) }
    }

    /// POSTs `people` creates over `concurrency` connections, each with its own phone.
    static func create(_ client: HTTPClient, url: String, token: String, people: Int, concurrency: Int) async throws -> Load {
        let next = CallCounter()
        let parts = try await withThrowingTaskGroup(of: ([Duration], Int).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var latencies: [Duration] = []
                    var failures = 0
                    while true {
                        let n = next.take()
                        guard n < people else { break }
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(token)")
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string:
                            #"{"full_name":"Клиент \#(n)","phone":"+7916\#(String(format: "%07d", n))","email":"p\#(n)@example.ru","stage":"NEW","external_id":"app-\#(n)"}"#))
                        let sent = ContinuousClock.now
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 16)
                        latencies.append(ContinuousClock.now - sent)
                        if response.status != .created { failures += 1 }
                    }
                    return (latencies, failures)
                }
            }
            var all: [([Duration], Int)] = []
            for try await part in group { all.append(part) }
            return all
        }
        return Load(latencies: parts.flatMap(\.0).sorted(), failures: parts.map(\.1).reduce(0, +))
    }
}
