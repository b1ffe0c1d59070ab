import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Server
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

/// `bench ingest`: seed HTTP PBX events per second and ack latency through the real router and storage,
/// side by side with a bare Hummingbird route answering 200 in the same process (the ceiling).
struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "PBX event ingest: events/s and ack latency p50/p99 vs. a bare route.",
        discussion: """
            Each call is a dial then a hangup from one client connection; every acknowledged event is committed (the raw \
            event, the call, and its RetailCRM jobs — no workers run, so the jobs stay queued). SQLite in a temp directory \
            unless --database-url names a PostgreSQL database (a tenant is added to it).
            """)

    @Option(help: "PostgreSQL URL; SQLite when absent.") var databaseURL: String?
    @Option(help: "Events per run (half dials, half hangups).") var events = 6000
    @Option(help: "Concurrent client connections.") var concurrency = 16

    struct Result {
        var events: Int
        var elapsed: Duration
        var latencies: [Duration]
        var failures: Int

        var rate: Double { Double(events) / max(elapsed.inSeconds, 1e-9) }

        func percentile(_ p: Double) -> Double { latencies.percentileMilliseconds(p) }

        var summary: String {
            String(format: "%7.0f events/s   ack p50 %6.2f ms   p99 %6.2f ms   failures %d", rate, percentile(0.5), percentile(0.99), failures)
        }
    }

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .error; return logger }()
        let location = try DatabaseLocation.resolve(
            databaseURL: databaseURL,
            dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path)
        let (events, concurrency) = (max(2, events), max(1, concurrency))
        print("backend: \(location.backend.rawValue)  events per run: \(events)  connections: \(concurrency)")
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))
        do {
            try await measure(client: client, location: location, events: events, concurrency: concurrency, logger: logger)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func measure(client: HTTPClient, location: DatabaseLocation, events: Int, concurrency: Int, logger: Logger) async throws {
        try await Database.withDatabase(location, logger: logger) { database in
            try await Migrator().migrate(database, logger: logger)
            // A fixed key: a reused bench database (PostgreSQL) must open what an earlier run sealed.
            let secrets = try SecretBox(key: Array(repeating: 7, count: 32))
            let services = try await AppServices.make(
                database: database, secrets: secrets, settings: ServerSettings(port: 0), stats: RequestStats(registry: PrometheusCollectorRegistry()),
                logger: logger)
            let slug = "bench-\(Identifiers.randomToken(prefix: "", bytes: 4).lowercased().filter { $0.isLetter || $0.isNumber })"
            let tenant = try await TenantProvisioning.create(database: database, secrets: secrets, slug: slug, name: "Bench")
            _ = try await services.stores.integrations.save(
                tenantID: tenant.tenant.id, kind: .retailcrm,
                change: .init(enabled: true, settings: ["base_url": "http://127.0.0.1:1"], secrets: ["api_key": "bench-key-123"]))
            try await BenchServers.run(services, logger: logger) { barePort, appPort in
                let bound = ["bare": barePort, "switchboard": appPort]
                let token = tenant.pbxToken
                // Warm-up: connections open, code paths hot.
                _ = try await Self.load(client, port: bound["bare"]!, events: 200, concurrency: concurrency, bare: true, token: token, prefix: "w")
                _ = try await Self.load(client, port: bound["switchboard"]!, events: 200, concurrency: concurrency, bare: false, token: token, prefix: "w")
                let ceiling = try await Self.load(client, port: bound["bare"]!, events: events, concurrency: concurrency, bare: true, token: token, prefix: "b")
                let ingest = try await Self.load(client, port: bound["switchboard"]!, events: events, concurrency: concurrency, bare: false, token: token, prefix: "r")
                print("bare route (ceiling)  " + ceiling.summary)
                print("PBX events (durable)  " + ingest.summary)
                print(String(format: "ratio: %.0f %% of the bare route's throughput", ingest.rate / ceiling.rate * 100))
                let stored = try await services.stores.calls.list(.init(tenantID: tenant.tenant.id, limit: 1)).count
                let jobs = try await services.jobs.depth()
                print("stored: calls present \(stored > 0 ? "yes" : "NO"); queued jobs \(jobs[.available] ?? 0)")
            }
        }
    }

    /// Sends `events` requests over `concurrency` connections; each connection plays calls (dial, hangup).
    static func load(
        _ client: HTTPClient, port: Int, events: Int, concurrency: Int, bare: Bool, token: String, prefix: String
    ) async throws -> Result {
        try await BenchLoad.run(client, items: events / 2, concurrency: concurrency) { call in
            ["dial", "hangup"].map { kind in
                let path = bare ? "/ok" : "/telephony/events/\(kind)"
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                let status = kind == "hangup" ? #","CallStatus":"ANSWER","BillSec":30"# : ""
                request.body = .bytes(ByteBuffer(string:
                    #"{"Token":"\#(token)","UniqueId":"\#(prefix)-\#(call)","CallerIDNum":"+7916\#(1_000_000 + call)","CallType":0,"Extensions":["101"]\#(status)}"#))
                return request
            }
        }
    }
}

/// Hands out call numbers to the load generator's connections.
final class CallCounter: Sendable {
    private let next = Atomic<Int>(0)
    func take() -> Int { next.add(1, ordering: .relaxed).oldValue }
}
