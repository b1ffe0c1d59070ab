import Foundation
import Logging
import SQLKit
import Storage
import SwitchboardCore

/// Where one tenant's CRM mirror lives, and how to run SQL there.
///
/// On SQLite every tenant has its own file next to the main database (`mirrors/<tenant>.sqlite`), which
/// Analytics can open read-only; on PostgreSQL every tenant has its own schema (`mirror_<tenant>`) in the
/// main database, so a per-tenant read-only role can be limited to it. A tenant with an enabled
/// `postgres` integration has its mirror on its own PostgreSQL server instead (in the schema it names).
public struct MirrorDatabase: Sendable {
    /// Runs the mirror's SQL: the tenant's own SQLite file, the main PostgreSQL database, or the tenant's server.
    public let database: Database
    /// The PostgreSQL schema holding the tenant's tables; nil on SQLite (the file is the namespace).
    public let schema: String?
    /// Which mirror this is, without credentials: nil for Switchboard's own database, else the tenant's
    /// server and schema. Sync checkpoints are only valid for the mirror they were taken on.
    public var identity: String?

    public init(database: Database, schema: String?, identity: String? = nil) {
        self.database = database
        self.schema = schema
        self.identity = identity
    }

    public var backend: DatabaseBackend { database.backend }

    /// A table name quoted and, on PostgreSQL, qualified with the tenant's schema — for raw SQL.
    /// Only names the mirror made itself (`[a-z0-9_]`) ever get here.
    public func table(_ name: String) -> String {
        let quoted = Self.quote(name)
        return schema.map { "\(Self.quote($0)).\(quoted)" } ?? quoted
    }

    /// Whether the mirror has a view named `name`.
    public func hasView(_ name: String) async throws -> Bool {
        try await database.run { sql in
            if let schema {
                return try await sql.raw(
                    "SELECT 1 AS present FROM information_schema.views WHERE table_schema = \(bind: schema) AND table_name = \(bind: name)"
                ).first() != nil
            }
            return try await sql.raw("SELECT 1 AS present FROM sqlite_master WHERE type = 'view' AND name = \(bind: name)").first() != nil
        }
    }

    public static func quote(_ identifier: String) -> String { "\"\(identifier.replacingOccurrences(of: "\"", with: "\"\""))\"" }

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
    /// `integrations` tells whether the tenant keeps its mirror on its own PostgreSQL server.
    public static func with<R: Sendable>(
        tenantID: String, main: Database, integrations: IntegrationRepository, _ body: @Sendable (MirrorDatabase) async throws -> R
    ) async throws -> R {
        var logger = main.logger
        logger[metadataKey: "mirror"] = "\(tenantID)"
        if let integration = try await integrations.find(tenantID: tenantID, kind: .postgres), integration.enabled {
            let external = try ExternalMirror(integration)
            let secret = integration.secrets["url"] ?? ""
            return try await MirrorConnectionPool.shared.with(.postgres(external.url), key: "\(tenantID)|\(secret)", logger: logger) { database in
                try await ensureSchema(external.schema, on: database)
                return try await body(MirrorDatabase(database: database, schema: external.schema, identity: external.identity))
            }
        }
        switch main.location {
        case .sqlite(let path):
            // One connection per file in this process, shared by the tenant's jobs (see MirrorConnectionPool).
            let file = sqlitePath(tenantID: tenantID, mainPath: path)
            return try await MirrorConnectionPool.shared.with(.sqlite(path: file), key: file, logger: logger) { database in
                try await body(MirrorDatabase(database: database, schema: nil))
            }
        case .postgres:
            let schema = schemaName(tenantID: tenantID)
            try await ensureSchema(schema, on: main)
            return try await body(MirrorDatabase(database: main, schema: schema))
        }
    }

    /// Creates the schema unless it exists (asking first: `CREATE SCHEMA IF NOT EXISTS` needs the right to
    /// create schemas even when it exists, which a tenant's user may lack for `public`).
    static func ensureSchema(_ schema: String, on database: Database) async throws {
        let exists = try await database.run { sql in
            try await sql.raw("SELECT 1 AS present FROM pg_namespace WHERE nspname = \(bind: schema)").first() != nil
        }
        guard !exists else { return }
        do {
            try await database.run { sql in try await sql.raw("CREATE SCHEMA IF NOT EXISTS \(unsafeRaw: quote(schema))").run() }
        } catch where Database.isUniqueViolation(error) {
            // Two jobs of a new tenant raced to create it; the other one did.
        }
    }
}
