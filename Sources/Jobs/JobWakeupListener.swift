import Logging
import ServiceLifecycle
import Storage

/// Listens for PostgreSQL `NOTIFY switchboard_jobs` and wakes this process's workers. A hint only: if
/// the listener is down, workers still find every job at their next poll. Reconnects after errors.
public struct JobWakeupListener: Service {
    let queue: JobQueue
    let logger: Logger

    public init(queue: JobQueue, logger: Logger) {
        self.queue = queue
        self.logger = logger
    }

    public func run() async throws {
        guard queue.database.backend == .postgres else {
            // One process on SQLite: the in-process notifier already does this job. Stay until shutdown.
            try? await gracefulShutdown()
            return
        }
        let notifier = queue.notifier
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await queue.database.listen(channel: JobQueue.channel) { await notifier.notifyAll() }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("job wake-up listener lost its connection; retrying", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                }
            }
        }
    }
}
