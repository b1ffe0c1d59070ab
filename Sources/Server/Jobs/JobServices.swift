import Jobs
import ServiceLifecycle

/// How a process runs jobs (from configuration: `SWITCHBOARD_WORKERS`, `SWITCHBOARD_TENANT_CONCURRENCY`, …).
public struct WorkerSettings: Sendable {
    /// Jobs this process runs at once (0: none).
    public var concurrency: Int
    /// Most jobs of one tenant running at once over all processes (nil: no cap).
    public var perTenant: Int?
    /// How long a claim lasts without a heartbeat; after a crash its jobs run again this much later.
    public var lease: Duration
    /// How often the scheduler looks for due periodic jobs.
    public var schedulerTick: Duration

    public init(concurrency: Int = 4, perTenant: Int? = 4, lease: Duration = .seconds(60), schedulerTick: Duration = .seconds(5)) {
        self.concurrency = concurrency
        self.perTenant = perTenant
        self.lease = lease
        self.schedulerTick = schedulerTick
    }
}

/// The services that run jobs — the worker, the PostgreSQL wake-up listener and the scheduler — as
/// `serve` (in-process) and `worker` (scale-out) both start them.
public enum JobServices {
    public static func make(services: AppServices, settings: WorkerSettings) -> [any Service] {
        guard settings.concurrency > 0 else { return [] }
        let worker = JobWorker(
            queue: services.jobs, registry: StandardJobs.registry(services: services),
            configuration: .init(concurrency: settings.concurrency, lease: settings.lease, perTenant: settings.perTenant),
            logger: services.logger)
        let scheduler = JobScheduler(queue: services.jobs, tick: settings.schedulerTick, logger: services.logger) {
            try await StandardJobs.schedules(services: services)
        }
        return [worker, JobWakeupListener(queue: services.jobs, logger: services.logger), scheduler]
    }
}
