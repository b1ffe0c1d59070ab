import Foundation
import Logging
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SQLiteNIO
import SwitchboardCore

/// Something repositories can run SQL on: the database itself (each call autocommits) or an open transaction.
public protocol SQLRunner: Sendable {
    var backend: DatabaseBackend { get }
    /// Runs `body` with an `SQLDatabase`; the handle must not escape the closure.
    func run<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R
}

/// The one database abstraction: SQLKit over an embedded SQLite file or a PostgreSQL server.
///
/// SQLite runs every statement through one connection in turn (SQLite allows one writer; WAL lets
/// readers in other processes proceed). PostgreSQL uses a PostgresNIO connection pool, which must be
/// running: open the database with ``withDatabase(_:logger:_:)``, which runs the pool for the body's lifetime.
public final class Database: SQLRunner {
    public let backend: DatabaseBackend
    public let location: DatabaseLocation
    public let logger: Logger
    private let driver: Driver

    private enum Driver: Sendable {
        case sqlite(SQLiteConnection, AsyncLock)
        case postgres(PostgresClient)
    }

    private init(location: DatabaseLocation, driver: Driver, logger: Logger) {
        self.location = location
        self.backend = location.backend
        self.driver = driver
        self.logger = logger
    }

    /// Opens the database, runs `body`, and closes it again — on every path.
    public static func withDatabase<R: Sendable>(
        _ location: DatabaseLocation, logger: Logger, _ body: @Sendable (Database) async throws -> R
    ) async throws -> R {
        switch location {
        case .sqlite(let path):
            let connection = try await openSQLite(path: path, logger: logger)
            let database = Database(location: location, driver: .sqlite(connection, AsyncLock()), logger: logger)
            let result = await withTaskGroup(of: Void.self, returning: Result<R, any Error>.self) { group in
                group.addTask { await SQLiteCheckpointer(path: path, logger: logger).run() }
                defer { group.cancelAll() }
                do {
                    return .success(try await body(database))
                } catch {
                    return .failure(error)
                }
            }
            // Closed after the checkpointer: the last connection to close checkpoints the rest of the WAL.
            await connection.closeEvenIfCancelled()
            return try result.get()
        case .postgres(let url):
            let client = PostgresClient(configuration: url.clientConfiguration(), backgroundLogger: logger)
            let database = Database(location: location, driver: .postgres(client), logger: logger)
            return try await withThrowingTaskGroup(of: Void.self, returning: R.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(database)
            }
        }
    }

    /// Opens an existing SQLite file for reading only (`query_only`: no statement may change it), without
    /// the WAL housekeeping of a writer; for running SQL nobody on our side wrote (questions about a mirror).
    public static func withReadOnlySQLite<R: Sendable>(path: String, logger: Logger, _ body: @Sendable (Database) async throws -> R) async throws -> R {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SwitchboardError(.notFound, code: "not_found", message: "nothing is mirrored for this tenant yet")
        }
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let database = Database(location: .sqlite(path: path), driver: .sqlite(connection, AsyncLock()), logger: logger)
        do {
            try await database.run { sql in
                try await sql.raw("PRAGMA busy_timeout = 5000").run()
                try await sql.raw("PRAGMA query_only = ON").run()
            }
            let result = try await body(database)
            await connection.closeEvenIfCancelled()
            return result
        } catch {
            await connection.closeEvenIfCancelled()
            throw error
        }
    }

    private static func openSQLite(path: String, logger: Logger) async throws -> SQLiteConnection {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw SwitchboardError(
                .unavailable, code: "data_dir_unwritable",
                message: "cannot create data directory \(directory): \(error.localizedDescription)")
        }
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let sql = connection.sql()
        // WAL: readers never block the writer; busy_timeout: wait rather than fail on a lock held by
        // another process (e.g. `switchboard tenant create` while `serve` runs). Checkpoints are the
        // SQLiteCheckpointer's, off the write path; the WAL file is cut back to 64 MiB when it restarts.
        for pragma in [
            // busy_timeout first: switching a new file to WAL while another connection opens it must wait, not fail.
            "PRAGMA busy_timeout = 5000", "PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON",
            "PRAGMA synchronous = NORMAL", "PRAGMA wal_autocheckpoint = 0", "PRAGMA journal_size_limit = 67108864",
        ] {
            do {
                try await sql.raw(SQLQueryString(pragma)).run()
            } catch {
                await connection.closeEvenIfCancelled()
                throw error
            }
        }
        return connection
    }

    public func run<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        switch driver {
        case .sqlite(let connection, let lock):
            return try await lock.withLock { try await body(connection.sql()) }
        case .postgres(let client):
            return try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: .trace, logger: self.logger))
            }
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<R: Sendable>(_ body: @Sendable (Transaction) async throws -> R) async throws -> R {
        switch driver {
        case .sqlite(let connection, let lock):
            return try await lock.withLock {
                let sql = connection.sql()
                // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read.
                try await sql.raw("BEGIN IMMEDIATE").run()
                return try await Self.finish(sql, body: body, backend: .sqlite)
            }
        case .postgres(let client):
            return try await client.withConnection { connection in
                let sql = connection.sql(queryLogLevel: .trace, logger: self.logger)
                try await sql.raw("BEGIN").run()
                return try await Self.finish(sql, body: body, backend: .postgres, connection: connection, logger: self.logger)
            }
        }
    }

    private static func finish<R: Sendable>(
        _ sql: any SQLDatabase, body: @Sendable (Transaction) async throws -> R, backend: DatabaseBackend,
        connection: PostgresConnection? = nil, logger: Logger? = nil
    ) async throws -> R {
        do {
            let result = try await body(Transaction(sql: sql, backend: backend, postgres: connection, logger: logger))
            try await sql.raw("COMMIT").run()
            return result
        } catch {
            try? await sql.raw("ROLLBACK").run()
            throw error
        }
    }

    /// A trivial round trip, for readiness checks.
    public func ping() async throws {
        try await run { try await $0.raw("SELECT 1").run() }
    }
}

/// An open transaction; repositories given this runner take part in it.
public struct Transaction: SQLRunner {
    let sql: any SQLDatabase
    public let backend: DatabaseBackend
    /// The PostgreSQL connection under `sql`, for `COPY` (nil on SQLite).
    let postgres: PostgresConnection?
    let logger: Logger?

    public func run<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await body(sql)
    }
}

extension Database {
    /// Calls `onNotification` for every PostgreSQL `NOTIFY` on `channel` until the task is cancelled,
    /// holding one pooled connection. On SQLite (one process) there is nobody else to hear from, so it
    /// waits for cancellation and returns.
    public func listen(channel: String, onNotification: @escaping @Sendable () async -> Void) async throws {
        switch driver {
        case .sqlite:
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        case .postgres(let client):
            try await client.withConnection { connection in
                try await connection.listen(on: channel) { notifications in
                    for try await _ in notifications { await onNotification() }
                }
            }
        }
    }

    /// Runs `body` on one PostgreSQL connection held for its whole run — for session state such as
    /// advisory locks, which die with the session (so with the process). Nil on SQLite: one process
    /// owns the file, there is nothing to coordinate.
    public func withSession<R: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> R) async throws -> R? {
        switch driver {
        case .sqlite:
            return nil
        case .postgres(let client):
            return try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: .trace, logger: self.logger))
            }
        }
    }
}
