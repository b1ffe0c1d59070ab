import ArgumentParser
import Hummingbird
import Jobs
import Logging
import Metrics
import Prometheus
import Server
import ServiceLifecycle
import Storage
import Synchronization
import Telephony

/// `switchboard serve` — the production entry point.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server (migrations are applied first).",
        discussion: secretSettingsHelp)

    @OptionGroup var storage: StorageOptions
    @OptionGroup var serve: ServeOptions

    func run() async throws {
        let runtime = try await Runtime.make(storage: storage, serve: serve)
        try await ServerRunner.run(runtime: runtime, onRunning: { _, _ in })
    }
}

/// Starts the server under a `ServiceGroup` with graceful shutdown on SIGTERM/SIGINT.
enum ServerRunner {
    /// - Parameters:
    ///   - prepare: runs after migrations and before the server binds (e.g. demo data).
    ///   - onRunning: runs once the server listens, with the bound port (useful with port 0).
    ///   - exitWhenReady: stop gracefully right after `onRunning` (used by `demo --check`).
    static func run(
        runtime: Runtime, prepare: @Sendable (AppServices) async throws -> Void = { _ in },
        onRunning: @escaping @Sendable (AppServices, _ port: Int) async -> Void, exitWhenReady: Bool = false
    ) async throws {
        let settings = try runtime.serverSettings()
        let jobSettings = try runtime.workerSettings()
        let logger = runtime.logger
        try await runtime.withDatabase { database, secrets in
            let registry = PrometheusCollectorRegistry()
            MetricsBootstrap.once(registry: registry)
            let services = try await AppServices.make(
                database: database, secrets: secrets, settings: settings, stats: RequestStats(registry: registry),
                logger: logger)
            try await prepare(services)
            if try await services.stores.users.count() == 0 {
                logger.warning(
                    "no admin users yet: create one with `switchboard user create --email you@example.com --role super_admin`")
            }
            // The server accepts connections only after `onServerRunning` returns, so the hook runs in its own service.
            let (ready, readySignal) = AsyncStream.makeStream(of: Int.self)
            let app = Application(
                router: buildRouter(services: services),
                configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "Switchboard"),
                onServerRunning: { channel in
                    readySignal.yield(channel.localAddress?.port ?? settings.port)
                    readySignal.finish()
                },
                logger: logger)
            logger.info(
                "switchboard listening",
                metadata: [
                    "address": "http://\(settings.host):\(settings.port)", "database": "\(database.location)",
                ])
            let hook = ReadyHook(ready: ready, exitAfterwards: exitWhenReady) { port in await onRunning(services, port) }
            var members: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: app), .init(service: hook, successTerminationBehavior: .gracefullyShutdownGroup),
            ]
            members.append(.init(service: ConfigCacheService(services: services)))
            members += JobServices.make(services: services, settings: jobSettings).map { .init(service: $0) }
            if runtime.pbxConnections() {
                members.append(.init(service: AMIService(queue: services.jobs, secrets: services.secrets, connections: services.pbx, routes: services.routes, logger: logger)))
            }
            let group = ServiceGroup(
                configuration: .init(services: members, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}

/// Points swift-metrics at the Prometheus registry that `/metrics` serves, once per process.
enum MetricsBootstrap {
    private static let done = Mutex(false)

    static func once(registry: PrometheusCollectorRegistry) {
        done.withLock { done in
            guard !done else { return }
            done = true
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        }
    }
}

/// Runs `action` once the server listens; then either returns (shutting the group down, for `demo --check`)
/// or stays until the group shuts down.
struct ReadyHook: Service {
    let ready: AsyncStream<Int>
    let exitAfterwards: Bool
    let action: @Sendable (Int) async -> Void

    func run() async throws {
        for await port in ready.cancelOnGracefulShutdown() {
            await action(port)
            break
        }
        if !exitAfterwards { try? await gracefulShutdown() }
    }
}
