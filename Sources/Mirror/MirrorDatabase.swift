import Foundation
import Logging
import SQLKit
import Storage
import SwitchboardCore

/// Where one tenant's CRM mirror lives, and how to run SQL there.
///
/// On SQLite every tenant has its own file next to the main database (`mirrors/<tenant>.sqlite`), which
/// Analytics can open read-only; on PostgreSQL every tenant has its own schema (`mirror_<tenant>`) in the
/// main database, so a per-tenant read-only role can be limited to it.
public struct MirrorDatabase: Sendable {
    /// Runs the mirror's SQL: the tenant's own SQLite file, or the main PostgreSQL database.
    public let database: Database
    /// The PostgreSQL schema holding the tenant's tables; nil on SQLite (the file is the namespace).
    public let schema: String?

    public var backend: DatabaseBackend { database.backend }

    /// A table name quoted and, on PostgreSQL, qualified with the tenant's schema — for raw SQL.
    /// Only names the mirror made itself (`[a-z0-9_]`) ever get here.
    public func table(_ name: String) -> String {
        let quoted = Self.quote(name)
        return schema.map { "\(Self.quote($0)).\(quoted)" } ?? quoted
    }

    static func quote(_ identifier: String) -> String { "\"\(identifier.replacingOccurrences(of: "\"", with: "\"\""))\"" }

    /// The PostgreSQL schema name of a tenant's mirror.
    public static func schemaName(tenantID: String) -> String {
        "mirror_" + String(tenantID.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber) }.prefix(48))
    }

    /// The SQLite file of a tenant's mirror, next to the main database file.
    public static func sqlitePath(tenantID: String, mainPath: String) -> String {
        let safe = String(tenantID.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
        return URL(fileURLWithPath: mainPath).deletingLastPathComponent()
            .appendingPathComponent("mirrors").appendingPathComponent("\(safe).sqlite").path
    }

    /// Opens the tenant's mirror (creating the file or schema on first use), runs `body`, closes it.
    public static func with<R: Sendable>(
        tenantID: String, main: Database, _ body: @Sendable (MirrorDatabase) async throws -> R
    ) async throws -> R {
        switch main.location {
        case .sqlite(let path):
            var logger = main.logger
            logger[metadataKey: "mirror"] = "\(tenantID)"
            // One connection per file in this process, shared by the tenant's jobs (see SQLiteMirrorPool).
            return try await SQLiteMirrorPool.shared.with(path: sqlitePath(tenantID: tenantID, mainPath: path), logger: logger) { database in
                try await body(MirrorDatabase(database: database, schema: nil))
            }
        case .postgres:
            let schema = schemaName(tenantID: tenantID)
            do {
                try await main.run { sql in try await sql.raw("CREATE SCHEMA IF NOT EXISTS \(unsafeRaw: quote(schema))").run() }
            } catch where Database.isUniqueViolation(error) {
                // Two jobs of a new tenant raced to create it; the other one did.
            }
            return try await body(MirrorDatabase(database: main, schema: schema))
        }
    }
}
