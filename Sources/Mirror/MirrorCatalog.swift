import Foundation
import SQLKit
import Storage
import SwitchboardCore

/// One column of a mirror table as the catalog (`mirror_catalog`, inside every tenant's mirror) records
/// it: where it comes from in the CRM, what it means and how it is stored. Analytics builds the data
/// dictionary and the LLM's schema prompt from these rows.
public struct MirrorColumn: Sendable, Equatable, Codable {
    /// What a column holds.
    public enum Role: String, Sendable, Codable {
        /// A CRM field's value.
        case field
        /// The human label of an enumerated field's value (`stage_id_label` next to `stage_id`).
        case label
        /// A multi-field (phones, e-mails): no column of its own; its values are rows of `<crm>_multifields`.
        case multi
        /// Kept by the mirror itself: `id`, `raw`, `modified_at`, `synced_at`, `deleted_at`.
        case system
    }

    public var table: String
    public var column: String
    public var crm: String
    public var entity: String
    /// The CRM field code (`STAGE_ID`); for system columns the column name.
    public var crmField: String
    public var label: String
    public var crmType: String
    public var type: MirrorFieldType
    public var role: Role
    /// Enumerated values, id → label.
    public var enumValues: [String: String]
    /// What the value points at (`user`, `contact`, `status:DEAL_STAGE`…).
    public var reference: String?
    /// False once the CRM no longer has the field: the column and its values stay, new rows leave it empty.
    public var active: Bool
    public var firstSeenAt: Date
    public var lastSeenAt: Date

    public init(
        table: String, column: String, crm: String, entity: String, crmField: String, label: String, crmType: String,
        type: MirrorFieldType, role: Role, enumValues: [String: String] = [:], reference: String? = nil, active: Bool = true,
        firstSeenAt: Date = .storageNow, lastSeenAt: Date = .storageNow
    ) {
        self.table = table
        self.column = column
        self.crm = crm
        self.entity = entity
        self.crmField = crmField
        self.label = label
        self.crmType = crmType
        self.type = type
        self.role = role
        self.enumValues = enumValues
        self.reference = reference
        self.active = active
        self.firstSeenAt = firstSeenAt
        self.lastSeenAt = lastSeenAt
    }
}

extension MirrorColumn {
    /// The CRM field this column was made from (field and multi-field rows only).
    public var field: CRMField? {
        guard role == .field || role == .multi else { return nil }
        return CRMField(
            code: crmField, label: label, crmType: crmType, type: type, enumValues: enumValues, isMultiField: role == .multi,
            reference: reference)
    }
}

/// Reads and writes `mirror_catalog` in a tenant's mirror.
public struct MirrorCatalog: Sendable {
    public let mirror: MirrorDatabase

    public init(_ mirror: MirrorDatabase) {
        self.mirror = mirror
    }

    static let tableName = "mirror_catalog"

    func createTable(on runner: any SQLRunner) async throws {
        let catalog = mirror.table(Self.tableName)
        let timestamp = mirror.backend == .postgres ? "TIMESTAMPTZ" : "TEXT"
        try await runner.run { sql in
            try await sql.raw(
                """
                CREATE TABLE IF NOT EXISTS \(unsafeRaw: catalog) (
                    table_name TEXT NOT NULL, column_name TEXT NOT NULL, crm TEXT NOT NULL, entity TEXT NOT NULL,
                    crm_field TEXT NOT NULL, label TEXT NOT NULL, crm_type TEXT NOT NULL, value_type TEXT NOT NULL,
                    role TEXT NOT NULL, enum_values TEXT, reference TEXT, active BOOLEAN NOT NULL,
                    first_seen_at \(unsafeRaw: timestamp) NOT NULL, last_seen_at \(unsafeRaw: timestamp) NOT NULL,
                    PRIMARY KEY (table_name, column_name))
                """
            ).run()
        }
    }

    /// Every column of `table` (or of all tables), in the order they were added.
    public func columns(table: String? = nil, on runner: (any SQLRunner)? = nil) async throws -> [MirrorColumn] {
        let catalog = mirror.table(Self.tableName)
        let rows: [any SQLRow]
        do {
            rows = try await (runner ?? mirror.database).run { sql in
                var query = SQLQueryString("SELECT * FROM \(unsafeRaw: catalog)")
                if let table { query = query + " WHERE table_name = \(bind: table)" }
                return try await sql.raw(query + " ORDER BY table_name, first_seen_at, column_name").all()
            }
        } catch where Database.isMissingTable(error) {
            return []  // nothing mirrored yet
        }
        return try rows.map(Self.decode)
    }

    func upsert(_ column: MirrorColumn, on runner: any SQLRunner) async throws {
        let catalog = mirror.table(Self.tableName)
        let enums = column.enumValues.isEmpty ? nil : JSONValue.object(column.enumValues.mapValues(JSONValue.string)).jsonText
        let timestamps = mirror.backend == .postgres ? [column.firstSeenAt, column.lastSeenAt].map { MirrorValues.postgresTimestamp($0) }
            : [column.firstSeenAt, column.lastSeenAt].map { MirrorValues.sqliteTimestamp($0) }
        let cast = mirror.backend == .postgres ? "::timestamptz" : ""
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO \(unsafeRaw: catalog) (table_name, column_name, crm, entity, crm_field, label, crm_type, value_type, role,
                    enum_values, reference, active, first_seen_at, last_seen_at)
                VALUES (\(bind: column.table), \(bind: column.column), \(bind: column.crm), \(bind: column.entity), \(bind: column.crmField),
                    \(bind: column.label), \(bind: column.crmType), \(bind: column.type.rawValue), \(bind: column.role.rawValue), \(bind: enums),
                    \(bind: column.reference), \(bind: column.active), \(bind: timestamps[0])\(unsafeRaw: cast), \(bind: timestamps[1])\(unsafeRaw: cast))
                ON CONFLICT (table_name, column_name) DO UPDATE SET crm_field = excluded.crm_field, label = excluded.label,
                    crm_type = excluded.crm_type, value_type = excluded.value_type, role = excluded.role, enum_values = excluded.enum_values,
                    reference = excluded.reference, active = excluded.active, last_seen_at = excluded.last_seen_at
                """
            ).run()
        }
    }

    static func decode(_ row: any SQLRow) throws -> MirrorColumn {
        var enums: [String: String] = [:]
        if let text = try row.decode(column: "enum_values", as: String?.self), let object = JSONValue(jsonText: text)?.objectValue {
            enums = object.compactMapValues(\.stringValue)
        }
        return MirrorColumn(
            table: try row.decode(column: "table_name", as: String.self), column: try row.decode(column: "column_name", as: String.self),
            crm: try row.decode(column: "crm", as: String.self), entity: try row.decode(column: "entity", as: String.self),
            crmField: try row.decode(column: "crm_field", as: String.self), label: try row.decode(column: "label", as: String.self),
            crmType: try row.decode(column: "crm_type", as: String.self),
            type: MirrorFieldType(rawValue: try row.decode(column: "value_type", as: String.self)) ?? .text,
            role: MirrorColumn.Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .field, enumValues: enums,
            reference: try row.decode(column: "reference", as: String?.self), active: try row.decode(column: "active", as: Bool.self),
            firstSeenAt: try decodeTimestamp(row, "first_seen_at"), lastSeenAt: try decodeTimestamp(row, "last_seen_at"))
    }

    /// PostgreSQL gives a timestamp, SQLite the text the mirror wrote.
    static func decodeTimestamp(_ row: any SQLRow, _ column: String) throws -> Date {
        if let text = try? row.decode(column: column, as: String.self), let date = MirrorValues.parseTimestamp(text) { return date }
        return try row.decode(column: column, as: Date.self)
    }
}
