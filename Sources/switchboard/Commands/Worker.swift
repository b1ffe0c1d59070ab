import ArgumentParser
import Jobs
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
    @Option(help: "Seconds a claimed job stays leased without a heartbeat; after a crash its jobs run again this much later.")
    var leaseSeconds: Int = 60

    func run() async throws {
        var serve = try ServeOptions.parse([])
        serve.workers = workers
        let runtime = try await Runtime.make(storage: storage, serve: serve)
        let settings = try runtime.serverSettings()
        let count = max(1, try runtime.workerCount())
        let logger = runtime.logger
        try await runtime.withDatabase { database, secrets in
            let services = try await AppServices.make(
                database: database, secrets: secrets, settings: settings,
                stats: RequestStats(registry: PrometheusCollectorRegistry()), logger: logger)
            let worker = JobWorker(
                queue: services.jobs, registry: StandardJobs.registry(services: services),
                configuration: .init(concurrency: count, lease: .seconds(max(2, leaseSeconds))), logger: logger)
            let group = ServiceGroup(
                configuration: .init(
                    services: [
                        .init(service: worker), .init(service: JobWakeupListener(queue: services.jobs, logger: logger)),
                        .init(service: JobScheduler(queue: services.jobs, logger: logger) { StandardJobs.schedules }),
                    ],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
