import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization

/// Runs jobs from the queue: claims as many as it has free slots, renews their leases while they run,
/// records results, and on graceful shutdown stops claiming and lets running jobs finish.
public struct JobWorker: Service {
    public struct Configuration: Sendable {
        public var concurrency: Int
        /// How long a claim lasts without renewal; a worker killed with SIGKILL loses its jobs after this.
        public var lease: Duration
        /// The longest a worker waits before looking for work when nobody wakes it.
        public var pollInterval: Duration
        /// The most jobs of one tenant running at once across all workers (nil: no cap).
        public var perTenant: Int?

        public init(
            concurrency: Int = 8, lease: Duration = .seconds(60), pollInterval: Duration = .milliseconds(500), perTenant: Int? = nil
        ) {
            self.concurrency = max(1, concurrency)
            self.lease = lease
            self.pollInterval = pollInterval
            self.perTenant = perTenant
        }
    }

    public let id: String
    let queue: JobQueue
    let registry: JobRegistry
    let configuration: Configuration
    let logger: Logger
    private let inFlight = InFlight()
    private let wake = WakeSignal()
    private let completions: CompletionBatcher

    public init(queue: JobQueue, registry: JobRegistry, configuration: Configuration = .init(), logger: Logger) {
        self.id = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(Identifiers.newID().prefix(8))"
        self.queue = queue
        self.registry = registry
        self.configuration = configuration
        self.completions = CompletionBatcher(queue: queue, owner: id)
        var logger = logger
        logger[metadataKey: "worker"] = .string(id)
        self.logger = logger
    }

    public func run() async throws {
        let registryRow = WorkerRegistry(database: queue.database)
        try await registryRow.register(id: id, concurrency: configuration.concurrency)
        await queue.notifier.register(wake)
        logger.info("worker started", metadata: ["concurrency": "\(configuration.concurrency)", "kinds": "\(registry.kinds)"])
        await withDiscardingTaskGroup { group in
            group.addTask { await heartbeat(registryRow) }
            await withGracefulShutdownHandler {
                await claimLoop(group: &group)
            } onGracefulShutdown: {
                Task { await wake.signal() }
            }
            // No more claims; running jobs finish, then the heartbeat stops.
            inFlight.stopping()
            await wake.signal()
        }
        await queue.notifier.unregister(wake)
        try? await registryRow.stop(id: id)
        logger.info("worker stopped")
    }

    private func claimLoop(group: inout DiscardingTaskGroup) async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let free = configuration.concurrency - inFlight.count
            var claimed: [Job] = []
            if free > 0 {
                do {
                    claimed = try await queue.claim(
                        owner: id, limit: free, lease: configuration.lease, perTenant: configuration.perTenant)
                } catch {
                    // Cancelled: the process is stopping, not failing.
                    if !Task.isCancelled { logger.error("claim failed; retrying after the poll interval", metadata: ["error": "\(error)"]) }
                }
            }
            for job in claimed {
                inFlight.add(job.id)
                group.addTask { await execute(job) }
            }
            if claimed.isEmpty || claimed.count == free {
                await wake.wait(timeout: configuration.pollInterval)
            }
        }
    }

    private func execute(_ job: Job) async {
        var logger = self.logger
        logger[metadataKey: "job_id"] = .string(job.id)
        logger[metadataKey: "job_kind"] = .string(job.kind)
        if let tenant = job.tenantID { logger[metadataKey: "tenant"] = .string(tenant) }
        defer {
            inFlight.remove(job.id)
            Task { await wake.signal() }
        }
        guard let entry = registry.entry(for: job.kind) else {
            _ = try? await queue.fail(
                job, owner: id, failure: .permanent("no handler for job kind '\(job.kind)'"), policy: .standard)
            return
        }
        let started = ContinuousClock.now
        JobMetrics.recordWait(job)
        let context = JobContext(job: job, logger: logger)
        do {
            let result = try await withTimeout(entry.timeout) { try await entry.handler(context) }
            let recorded = try await completions.complete(id: job.id, result: result)
            JobMetrics.recordRun(kind: job.kind, outcome: "succeeded", duration: ContinuousClock.now - started)
            logger.info(
                recorded ? "job succeeded" : "job finished after losing its lease; result not recorded",
                metadata: ["attempt": "\(job.attempt)", "duration_ms": "\((ContinuousClock.now - started).wholeMilliseconds)"])
        } catch {
            let failure = JobFailure(error)
            let next = try? await queue.fail(job, owner: id, failure: failure, policy: entry.policy)
            if case .deferred(let reason, let until) = failure {
                JobMetrics.recordRun(kind: job.kind, outcome: "deferred", duration: ContinuousClock.now - started)
                logger.debug("job deferred", metadata: ["reason": "\(reason)", "for_ms": "\(until.wholeMilliseconds)"])
                return
            }
            JobMetrics.recordRun(kind: job.kind, outcome: next?.rawValue ?? "unknown", duration: ContinuousClock.now - started)
            logger.warning(
                "job failed",
                metadata: ["attempt": "\(job.attempt)", "next_state": "\(next?.rawValue ?? "unknown")", "error": "\(failure.message)"])
        }
    }

    /// Every lease/3: renew our leases, record the heartbeat, and hand back jobs whose worker died.
    /// Ticks at least every second so a stopping worker notices promptly.
    private func heartbeat(_ registryRow: WorkerRegistry) async {
        let interval = configuration.lease / 3
        var last = ContinuousClock.now
        while !(inFlight.isStopping && inFlight.count == 0) && !Task.isCancelled {
            try? await Task.sleep(for: min(interval, .seconds(1)))
            guard ContinuousClock.now - last >= interval else { continue }
            last = .now
            do {
                try await queue.extendLeases(ids: inFlight.ids, owner: id, lease: configuration.lease)
                try await registryRow.beat(id: id, inFlight: inFlight.count)
                if try await queue.rescueExpiredLeases() > 0 { await wake.signal() }
            } catch {
                logger.warning("heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Runs `body`, failing with a retryable error when it takes longer than `limit`.
func withTimeout<R: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
    try await withThrowingTaskGroup(of: R.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw JobFailure.retryable("timed out after \(limit)")
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw JobFailure.retryable("no result") }
        return result
    }
}

/// The ids of jobs this worker is running.
final class InFlight: Sendable {
    private let state = Mutex<(ids: Set<String>, stopping: Bool)>(([], false))

    var count: Int { state.withLock { $0.ids.count } }
    var ids: [String] { state.withLock { Array($0.ids) } }
    var isStopping: Bool { state.withLock { $0.stopping } }
    func add(_ id: String) { state.withLock { _ = $0.ids.insert(id) } }
    func remove(_ id: String) { state.withLock { _ = $0.ids.remove(id) } }
    func stopping() { state.withLock { $0.stopping = true } }
}
