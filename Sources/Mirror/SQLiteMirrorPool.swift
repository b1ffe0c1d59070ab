import Foundation
import Logging
import Storage

/// One open connection per SQLite mirror file in this process, shared by every job that uses it.
///
/// SQLite lets one writer in at a time. Jobs of one tenant each opening the file would wait for each
/// other in SQLite's busy handler, which sleeps on the threads every SQLite connection shares — the
/// writer they wait for then cannot run either. Through one connection, writes simply take turns.
actor SQLiteMirrorPool {
    static let shared = SQLiteMirrorPool()

    private struct Entry {
        var database: Database?
        var users = 0
        var waiters: [CheckedContinuation<Database, any Error>] = []
        var close: CheckedContinuation<Void, Never>?
        var closeRequested = false
    }

    private var entries: [String: Entry] = [:]
    private var generation = 0

    /// Runs `body` with the shared connection to `path`, opening it first if nobody holds it.
    func with<R: Sendable>(path: String, logger: Logger, _ body: @Sendable (Database) async throws -> R) async throws -> R {
        let database = try await acquire(path: path, logger: logger)
        do {
            let result = try await body(database)
            release(path: path)
            return result
        } catch {
            release(path: path)
            throw error
        }
    }

    private func acquire(path: String, logger: Logger) async throws -> Database {
        if var entry = entries[path] {
            entry.users += 1
            entry.closeRequested = false  // a user came back before the connection was told to close
            if let database = entry.database {
                entries[path] = entry
                return database
            }
            return try await withCheckedThrowingContinuation { continuation in
                entry.waiters.append(continuation)
                entries[path] = entry
            }
        }
        entries[path] = Entry(users: 1)
        return try await withCheckedThrowingContinuation { continuation in
            entries[path]?.waiters.append(continuation)
            // The connection lives until its last user is done, longer than any one caller's task.
            Task.detached { [self] in
                do {
                    try await Database.withDatabase(.sqlite(path: path), logger: logger) { database in
                        try await database.run { sql in try await sql.raw("PRAGMA busy_timeout = 60000").run() }
                        await self.opened(path: path, database: database)
                        await withCheckedContinuation { (close: CheckedContinuation<Void, Never>) in
                            Task { await self.waitForLastUser(path: path, close: close) }
                        }
                    }
                } catch {
                    await self.failed(path: path, error: error)
                }
            }
        }
    }

    private func opened(path: String, database: Database) {
        guard var entry = entries[path] else { return }
        entry.database = database
        for waiter in entry.waiters { waiter.resume(returning: database) }
        entry.waiters = []
        entries[path] = entry
    }

    private func failed(path: String, error: any Error) {
        guard let entry = entries[path], entry.database == nil else { return }
        for waiter in entry.waiters { waiter.resume(throwing: error) }
        entries[path] = nil
    }

    private func waitForLastUser(path: String, close: CheckedContinuation<Void, Never>) {
        guard var entry = entries[path], !entry.closeRequested else {
            entries[path] = nil
            close.resume()
            return
        }
        entry.close = close
        entries[path] = entry
    }

    private func release(path: String) {
        guard var entry = entries[path] else { return }
        entry.users -= 1
        guard entry.users == 0 else {
            entries[path] = entry
            return
        }
        if let close = entry.close {
            entries[path] = nil
            close.resume()
        } else {
            entry.closeRequested = true
            entries[path] = entry
        }
    }
}
