import Foundation
import Logging
import Mirror
import SQLKit
import Storage
import SwitchboardCore

/// What a query over a mirror returned.
public struct QueryResult: Sendable, Codable, Equatable {
    public var columns: [String]
    public var rows: [[JSONValue]]
    /// True when there were more rows than the limit (the rest were not read).
    public var truncated: Bool
    public var elapsedMilliseconds: Int
    /// The defences the query ran behind, for the record (`guard`, `read-only connection`, `role sb_read_…`…).
    public var isolation: [String]

    enum CodingKeys: String, CodingKey {
        case columns, rows, truncated, isolation
        case elapsedMilliseconds = "elapsed_ms"
    }
}

/// Runs SQL nobody on our side wrote over one tenant's mirror, behind every layer at once: ``SQLGuard``;
/// on SQLite the tenant's own mirror file opened read-only (`query_only`) on a connection of its own; on
/// PostgreSQL a read-only transaction with a statement timeout, `search_path` set to the tenant's schema and
/// `SET ROLE` to a role that may only read that schema; and a row limit.
public enum MirrorQuery {
    public static let defaultRowLimit = 5_000
    public static let timeout: Duration = .seconds(5)

    public static func run(
        _ sql: String, tenantID: String, main: Database, integrations: IntegrationRepository, rowLimit: Int = defaultRowLimit, logger: Logger
    ) async throws -> QueryResult {
        let limit = min(max(rowLimit, 1), 50_000)
        if let integration = try await integrations.find(tenantID: tenantID, kind: .postgres), integration.enabled {
            // The tenant's own PostgreSQL server: its schema, read-only transaction, timeout; a role when we may make one.
            return try await MirrorDatabase.with(tenantID: tenantID, main: main, integrations: integrations) { mirror in
                try await postgres(sql, database: mirror.database, schema: mirror.schema ?? "public", limit: limit, logger: logger)
            }
        }
        switch main.location {
        case .sqlite(let path):
            let checked = try SQLGuard.check(sql, dialect: .sqlite)
            let file = MirrorDatabase.sqlitePath(tenantID: tenantID, mainPath: path)
            return try await Database.withReadOnlySQLite(path: file, logger: logger) { database in
                try await timed(["guard", "read-only connection to the tenant's mirror file", "row limit \(limit)"]) {
                    try await fetch(checked, limit: limit, on: database)
                }
            }
        case .postgres:
            return try await postgres(sql, database: main, schema: MirrorDatabase.schemaName(tenantID: tenantID), limit: limit, logger: logger)
        }
    }

    static func postgres(_ sql: String, database: Database, schema: String, limit: Int, logger: Logger) async throws -> QueryResult {
        let checked = try SQLGuard.check(sql, dialect: .postgres, schema: schema)
        let role = await readerRole(schema: schema, on: database, logger: logger)
        var layers = ["guard", "read-only transaction", "statement_timeout \(Int(timeout.inSeconds)) s", "search_path \(schema)", "row limit \(limit)"]
        if let role { layers.append("role \(role) (reads \(schema) only)") }
        var settings = ["SET LOCAL statement_timeout = '\(Int(timeout.inSeconds * 1000))ms'"]
        if let role { settings.append("SET LOCAL ROLE " + MirrorDatabase.quote(role)) }
        settings.append("SET LOCAL search_path = " + MirrorDatabase.quote(schema))
        let statements = settings
        return try await timed(layers) {
            try await database.transaction { tx in
                try await tx.run { sql in
                    try await sql.raw("SET TRANSACTION READ ONLY").run()
                    for statement in statements { try await sql.raw(SQLQueryString(statement)).run() }
                }
                return try await fetch(checked, limit: limit, on: tx)
            }
        }
    }

    /// The role that may only read `schema`, made (and given the schema's tables) when missing; nil when this
    /// database user may not make roles — the other layers still hold.
    static func readerRole(schema: String, on database: Database, logger: Logger) async -> String? {
        let role = "sb_read_" + Identifiers.sha256Hex(schema).prefix(16)
        let quotedRole = MirrorDatabase.quote(role)
        let quotedSchema = MirrorDatabase.quote(schema)
        do {
            try await database.run { sql in
                if try await sql.raw("SELECT 1 AS present FROM pg_roles WHERE rolname = \(bind: role)").first() == nil {
                    do {
                        try await sql.raw(SQLQueryString("CREATE ROLE " + quotedRole + " NOLOGIN")).run()
                    } catch where Database.isUniqueViolation(error) || "\(String(reflecting: error))".contains("42710") {
                        // Another process made it a moment ago.
                    }
                }
                for statement in [
                    "GRANT " + quotedRole + " TO CURRENT_USER", "GRANT USAGE ON SCHEMA " + quotedSchema + " TO " + quotedRole,
                    "GRANT SELECT ON ALL TABLES IN SCHEMA " + quotedSchema + " TO " + quotedRole,
                ] {
                    try await sql.raw(SQLQueryString(statement)).run()
                }
            }
            return role
        } catch {
            logger.notice("no read-only role for mirror queries; the guard, read-only transaction and search_path remain", metadata: ["error": "\(Database.describe(error))"])
            return nil
        }
    }

    static func timed(_ layers: [String], _ body: @escaping @Sendable () async throws -> ([String], [[JSONValue]], Bool)) async throws -> QueryResult {
        let started = ContinuousClock.now
        let (columns, rows, truncated) = try await withThrowingTaskGroup(of: ([String], [[JSONValue]], Bool)?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout + .seconds(1))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let answer = first else {
                throw SwitchboardError(.unavailable, code: "query_timeout", message: "the query ran longer than \(Int(timeout.inSeconds)) s", field: "sql")
            }
            return answer
        }
        return QueryResult(
            columns: columns, rows: rows, truncated: truncated, elapsedMilliseconds: Int((ContinuousClock.now - started).inSeconds * 1000), isolation: layers)
    }

    /// The rows, at most `limit` (one more is asked for, to tell whether there were more).
    static func fetch(_ sql: String, limit: Int, on runner: any SQLRunner) async throws -> ([String], [[JSONValue]], Bool) {
        let backend = runner.backend
        let wrapped = "SELECT * FROM (" + sql + "\n) AS sb_query LIMIT " + String(limit + 1)
        let rows: [any SQLRow]
        do {
            rows = try await runner.run { db in
                try await db.raw(SQLQueryString(wrapped)).all()
            }
        } catch let error as SwitchboardError {
            throw error
        } catch {
            let message = Database.describe(error)
            if message.contains("57014") || message.lowercased().contains("statement timeout") {
                throw SwitchboardError(.unavailable, code: "query_timeout", message: "the query ran longer than \(Int(timeout.inSeconds)) s", field: "sql")
            }
            throw SwitchboardError.invalid("sql", "the database refused the query: \(message)", code: "sql_error")
        }
        let columns = rows.first?.allColumns ?? []
        // Cells are read by column name: two columns with one name would show the first one's values twice.
        if let twice = columns.first(where: { name in columns.filter { $0 == name }.count > 1 }) {
            throw SwitchboardError.invalid("sql", "two result columns are named '\(twice)': give each its own name with AS", code: "sql_error")
        }
        let values = try rows.prefix(limit).map { row in try columns.map { try value(row, $0, backend: backend) } }
        return (columns, values, rows.count > limit)
    }

    /// One cell as JSON: numbers stay numbers, everything else is text.
    static func value(_ row: any SQLRow, _ column: String, backend: DatabaseBackend) throws -> JSONValue {
        if try row.decodeNil(column: column) { return .null }
        if let number = try? row.decode(column: column, as: Int64.self) { return .number(Double(number)) }
        if let number = try? row.decode(column: column, as: Double.self) { return .number(number) }
        if backend == .postgres, let number = try? row.decode(column: column, as: Decimal.self) { return .number(NSDecimalNumber(decimal: number).doubleValue) }
        if let flag = try? row.decode(column: column, as: Bool.self) { return .bool(flag) }
        if let text = try? row.decode(column: column, as: String.self) { return .string(text) }
        if let date = try? row.decode(column: column, as: Date.self) { return .string(date.ISO8601Format()) }
        return .string("?")
    }
}
