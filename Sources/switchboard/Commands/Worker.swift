import ArgumentParser
import Prometheus
import Server
import ServiceLifecycle
import Storage

/// `switchboard worker` — only job workers, no HTTP server (scale-out on PostgreSQL).
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run job workers without the HTTP server (for more processes on one PostgreSQL).",
        discussion: secretSettingsHelp)

    @OptionGroup var storage: StorageOptions
    @Option(help: "Jobs run at once by this process. Env SWITCHBOARD_WORKERS. Default 4.") var workers: Int?
    @Option(help: "Most jobs of one tenant running at once over all processes (0: no cap). Env SWITCHBOARD_TENANT_CONCURRENCY. Default 4.")
    var tenantConcurrency: Int?
    @Option(help: "Seconds a claimed job stays leased without a heartbeat; after a crash its jobs run again this much later. Env SWITCHBOARD_JOB_LEASE_SECONDS. Default 60.")
    var leaseSeconds: Int?

    func run() async throws {
        var serve = try ServeOptions.parse([])
        serve.workers = workers
        serve.tenantConcurrency = tenantConcurrency
        serve.jobLeaseSeconds = leaseSeconds
        let runtime = try await Runtime.make(storage: storage, serve: serve)
        let settings = try runtime.serverSettings()
        var configured = try runtime.workerSettings()
        configured.concurrency = max(1, configured.concurrency)  // a worker process that runs no jobs is useless
        let jobSettings = configured
        let logger = runtime.logger
        try await runtime.withDatabase { database, secrets in
            let services = try await AppServices.make(
                database: database, secrets: secrets, settings: settings,
                stats: RequestStats(registry: PrometheusCollectorRegistry()), logger: logger)
            let group = ServiceGroup(
                configuration: .init(
                    services: JobServices.make(services: services, settings: jobSettings).map { .init(service: $0) },
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
