import Foundation
import Logging
import SQLKit
import SwitchboardCore

/// One versioned schema change. Migrations only add: a column or table is never dropped or rewritten
/// in a way that loses rows, so an older binary's data survives any upgrade.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    /// The statements for a backend, run in order inside one transaction.
    public let statements: @Sendable (SQLTypes) -> [String]

    public init(version: Int, name: String, statements: @escaping @Sendable (SQLTypes) -> [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Column type names per backend, so one migration text serves both.
public struct SQLTypes: Sendable {
    public let backend: DatabaseBackend
    public var timestamp: String { backend == .postgres ? "TIMESTAMPTZ" : "REAL" }
    public var bool: String { "BOOLEAN" }
    public var bigint: String { "BIGINT" }
    public var text: String { "TEXT" }
    public var autoIncrementKey: String {
        backend == .postgres ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
    }
}

/// Applies ``Migration``s and reports which are applied.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    public init(migrations: [Migration] = ControlMigrations.all) {
        precondition(
            zip(migrations, migrations.dropFirst()).allSatisfy { $0.version < $1.version },
            "migration versions must increase")
        self.migrations = migrations
    }

    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// The applied versions, or an empty list on a database never migrated. Read-only: `/health` calls it.
    public func appliedVersions(_ database: Database) async throws -> [Int] {
        do {
            return try await database.run { sql in
                try await sql.raw("SELECT version FROM schema_migrations ORDER BY version").all()
                    .map { try $0.decode(column: "version", as: Int.self) }
            }
        } catch where Database.isMissingTable(error) {
            return []
        }
    }

    /// Applies every pending migration, each in its own transaction; returns the versions applied now.
    @discardableResult
    public func migrate(_ database: Database, logger: Logger) async throws -> [Int] {
        let types = SQLTypes(backend: database.backend)
        var applied: [Int] = []
        for migration in migrations {
            let ran = try await database.transaction { tx in
                try await tx.run { sql in
                    if database.backend == .postgres {
                        // Two instances starting together must not both apply a migration.
                        try await sql.raw("SELECT pg_advisory_xact_lock(7242001)").run()
                    }
                    try await Self.createLedger(sql, types: types)
                    let done = try await sql.raw(
                        "SELECT 1 AS present FROM schema_migrations WHERE version = \(bind: migration.version)"
                    ).first()
                    guard done == nil else { return false }
                    for statement in migration.statements(types) {
                        try await sql.raw(SQLQueryString(statement)).run()
                    }
                    try await sql.raw(
                        """
                        INSERT INTO schema_migrations (version, name, applied_at)
                        VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Date.storageNow))
                        """
                    ).run()
                    return true
                }
            }
            if ran {
                applied.append(migration.version)
                logger.info(
                    "applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    private static func createLedger(_ sql: any SQLDatabase, types: SQLTypes) async throws {
        try await sql.raw(
            SQLQueryString(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at \(types.timestamp) NOT NULL)
                """)
        ).run()
    }
}
