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
