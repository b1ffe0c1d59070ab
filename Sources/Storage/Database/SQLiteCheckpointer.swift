import Foundation
import Logging
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// Copies SQLite's write-ahead log into the database file in the background, on its own connection
/// and thread.
///
/// Left to SQLite, the commit that pushes the WAL past 1,000 pages runs the checkpoint itself: that
/// commit (and every PBX event waiting behind it) stalls for tens of milliseconds. The writer turns
/// automatic checkpoints off (`wal_autocheckpoint = 0`) and this loop runs a `PASSIVE` checkpoint every
/// `interval` instead, which never blocks the writer. The WAL file is cut back to `journal_size_limit`
/// when it restarts, and the last connection to close checkpoints whatever is left.
struct SQLiteCheckpointer: Sendable {
    let path: String
    let interval: Duration
    let logger: Logger

    init(path: String, interval: Duration = .seconds(1), logger: Logger) {
        self.path = path
        self.interval = interval
        self.logger = logger
    }

    /// Runs until the task is cancelled.
    func run() async {
        let threads = NIOThreadPool(numberOfThreads: 1)
        threads.start()
        defer { threads.shutdownGracefully { _ in } }
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: threads, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
        } catch {
            // Cancelled while opening: the database is closing anyway (a short-lived mirror connection).
            if error is CancellationError || Task.isCancelled { return }
            logger.error("sqlite checkpointer cannot open the database; the WAL is checkpointed when the database closes", metadata: ["error": "\(error)"])
            return
        }
        // Waits for a busy writer instead of failing the checkpoint.
        try? await connection.sql().raw("PRAGMA busy_timeout = 5000").run()
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                break
            }
            do {
                try await connection.sql().raw("PRAGMA wal_checkpoint(PASSIVE)").run()
            } catch {
                logger.warning("sqlite checkpoint failed; retrying", metadata: ["error": "\(error)"])
            }
        }
        await connection.closeEvenIfCancelled()
    }
}

extension SQLiteConnection {
    /// Closes the connection even from a cancelled task: NIO's thread pool drops work submitted by a
    /// cancelled task, which would leave the handle open (and checkpoint nothing on the way out).
    func closeEvenIfCancelled() async {
        await Task { try? await self.close() }.value
    }
}
