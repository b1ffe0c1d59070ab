import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import Server
import ServiceLifecycle

/// The two servers an HTTP benchmark compares: a bare Hummingbird route answering 200 at `/ok` (the
/// ceiling) and Switchboard's real router, both on loopback in this process.
enum BenchServers {
    /// Runs both while `body` runs; `body` gets their ports (`bare`, `switchboard`).
    static func run(_ services: AppServices, logger: Logger, _ body: @Sendable (_ bare: Int, _ switchboard: Int) async throws -> Void) async throws {
        let bare = Router()
        bare.post("ok") { _, _ in HTTPResponse.Status.ok }
        let (ports, portSink) = AsyncStream.makeStream(of: (String, Int).self)
        let apps: [any Service] = [
            Application(
                router: bare, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "bare"),
                onServerRunning: { portSink.yield(("bare", $0.localAddress?.port ?? 0)) }, logger: logger),
            Application(
                router: buildRouter(services: services), configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "Switchboard"),
                onServerRunning: { portSink.yield(("switchboard", $0.localAddress?.port ?? 0)) }, logger: logger),
        ]
        let group = ServiceGroup(services: apps, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var bound: [String: Int] = [:]
            for await (name, port) in ports {
                bound[name] = port
                if bound.count == 2 { break }
            }
            do {
                try await body(bound["bare"] ?? 0, bound["switchboard"] ?? 0)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

/// The load generator of the HTTP benchmarks: `concurrency` connections take items `0..<items` in turn
/// and send each item's requests in order; every answer's latency is kept.
enum BenchLoad {
    static func run(
        _ client: HTTPClient, items: Int, concurrency: Int, requests: @escaping @Sendable (Int) -> [HTTPClientRequest]
    ) async throws -> BenchIngest.Result {
        let next = CallCounter()
        let started = ContinuousClock.now
        let parts = try await withThrowingTaskGroup(of: ([Duration], Int).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var latencies: [Duration] = []
                    var failures = 0
                    while case let item = next.take(), item < items {
                        for request in requests(item) {
                            let sent = ContinuousClock.now
                            let response = try await client.execute(request, timeout: .seconds(30))
                            _ = try await response.body.collect(upTo: 1 << 16)
                            latencies.append(ContinuousClock.now - sent)
                            if response.status != .ok { failures += 1 }
                        }
                    }
                    return (latencies, failures)
                }
            }
            var all: [([Duration], Int)] = []
            for try await part in group { all.append(part) }
            return all
        }
        let latencies = parts.flatMap(\.0).sorted()
        return BenchIngest.Result(events: latencies.count, elapsed: ContinuousClock.now - started, latencies: latencies, failures: parts.map(\.1).reduce(0, +))
    }
}
