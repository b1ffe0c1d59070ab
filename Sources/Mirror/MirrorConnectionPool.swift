import Foundation
import Logging
import Storage

/// One open database per mirror in this process — a tenant's SQLite file or its own PostgreSQL server —
/// shared by every job that uses it while any does, closed when the last one is done.
///
/// SQLite lets one writer in at a time. Jobs of one tenant each opening the file would wait for each
/// other in SQLite's busy handler, which sleeps on the threads every SQLite connection shares — the
/// writer they wait for then cannot run either. Through one connection, writes simply take turns.
/// A tenant's PostgreSQL gets one connection pool instead of one per job.
actor MirrorConnectionPool {
    static let shared = MirrorConnectionPool()

    private struct Entry {
        var database: Database?
        var users = 0
        var waiters: [CheckedContinuation<Database, any Error>] = []
        var close: CheckedContinuation<Void, Never>?
        var closeRequested = false
    }

    private var entries: [String: Entry] = [:]
    private var generation = 0

    /// Runs `body` with the shared database at `location`, opening it first if nobody holds it. `key`
    /// tells databases apart (for PostgreSQL it must include the credentials: it is never logged).
    func with<R: Sendable>(
        _ location: DatabaseLocation, key: String, logger: Logger, _ body: @Sendable (Database) async throws -> R
    ) async throws -> R {
        let database = try await acquire(location, key: key, logger: logger)
        do {
            let result = try await body(database)
            release(key: key)
            return result
        } catch {
            release(key: key)
            throw error
        }
    }

    private func acquire(_ location: DatabaseLocation, key: String, logger: Logger) async throws -> Database {
        if var entry = entries[key] {
            entry.users += 1
            entry.closeRequested = false  // a user came back before the connection was told to close
            if let database = entry.database {
                entries[key] = entry
                return database
            }
            return try await withCheckedThrowingContinuation { continuation in
                entry.waiters.append(continuation)
                entries[key] = entry
            }
        }
        entries[key] = Entry(users: 1)
        return try await withCheckedThrowingContinuation { continuation in
            entries[key]?.waiters.append(continuation)
            // The connection lives until its last user is done, longer than any one caller's task.
            Task.detached { [self] in
                do {
                    // A PostgreSQL pool retries a failing connect and hides why: one plain connection first.
                    if case .postgres(let url) = location { try await url.withSingleConnection(logger: logger) { _ in } }
                    try await Database.withDatabase(location, logger: logger) { database in
                        if database.backend == .sqlite {
                            try await database.run { sql in try await sql.raw("PRAGMA busy_timeout = 60000").run() }
                        }
                        await self.opened(key: key, database: database)
                        await withCheckedContinuation { (close: CheckedContinuation<Void, Never>) in
                            Task { await self.waitForLastUser(key: key, close: close) }
                        }
                    }
                } catch {
                    await self.failed(key: key, error: error)
                }
            }
        }
    }

    private func opened(key: String, database: Database) {
        guard var entry = entries[key] else { return }
        entry.database = database
        for waiter in entry.waiters { waiter.resume(returning: database) }
        entry.waiters = []
        entries[key] = entry
    }

    private func failed(key: String, error: any Error) {
        guard let entry = entries[key], entry.database == nil else { return }
        for waiter in entry.waiters { waiter.resume(throwing: error) }
        entries[key] = nil
    }

    private func waitForLastUser(key: String, close: CheckedContinuation<Void, Never>) {
        guard var entry = entries[key], !entry.closeRequested else {
            entries[key] = nil
            close.resume()
            return
        }
        entry.close = close
        entries[key] = entry
    }

    private func release(key: String) {
        guard var entry = entries[key] else { return }
        entry.users -= 1
        guard entry.users == 0 else {
            entries[key] = entry
            return
        }
        if let close = entry.close {
            entries[key] = nil
            close.resume()
        } else {
            entry.closeRequested = true
            entries[key] = entry
        }
    }
}
