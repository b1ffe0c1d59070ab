import Foundation
import SQLKit
import Storage
import SwitchboardCore

/// Writes CRM records into a mirror table: multi-row `INSERT … ON CONFLICT (id) DO UPDATE` statements
/// (one round trip per few hundred rows; on PostgreSQL `COPY` into a temporary table and one merging
/// `INSERT … SELECT`), multi-field values replaced in the child table, all of a page in one transaction.
public struct MirrorWriter: Sendable {
    public let mirror: MirrorDatabase
    public let schema: MirrorSchema
    /// Phones in multi-fields are also stored in E.164 with this default country, so calls join to them.
    public let defaultCountry: String

    public init(mirror: MirrorDatabase, crm: String, defaultCountry: String = "RU") {
        self.mirror = mirror
        self.schema = MirrorSchema(mirror: mirror, crm: crm)
        self.defaultCountry = defaultCountry
    }

    /// SQLite allows 32,766 parameters per statement, PostgreSQL 65,535; stay well below both.
    static let maxParameters = 30_000
    static let maxRowsPerStatement = 500

    /// Upserts `records` (all of `entity`) with `columns` from the catalog; `multiValues` are each record's
    /// multi-field values (nil when the entity has no multi-fields). Rows come back to life (`deleted_at`
    /// cleared) when the CRM has them again.
    public func upsert(
        _ entity: MirrorEntity, columns: [MirrorColumn], records: [CRMRecord], multiValues: [Int64: [CRMMultiValue]]?,
        syncedAt: Date
    ) async throws {
        guard !records.isEmpty else { return }
        let prepared = prepare(columns: columns, records: records, syncedAt: syncedAt)
        let table = mirror.table(entity.table)
        try await mirror.database.transaction { tx in
            if canCopy(tx, columns: prepared.names) {
                try await copyUpsert(prepared, into: table, on: tx)
            } else {
                for chunk in prepared.values.chunked(into: prepared.perStatement) {
                    let statement = UpsertStatement(table: table, columns: prepared.names, casts: prepared.casts, rows: Array(chunk))
                    try await tx.run { sql in try await sql.execute(sql: statement) { _ in } }
                }
            }
            if let multiValues { try await replaceMultiValues(entity, ids: prepared.ids, values: multiValues, on: tx) }
        }
    }

    /// PostgreSQL with plain column names: rows go in through `COPY`, which the server parses several
    /// times faster than a statement with thousands of parameters.
    func canCopy(_ tx: Transaction, columns: [String]) -> Bool {
        tx.canCopy && (mirror.schema.map(Transaction.isPlainIdentifier) ?? true) && columns.allSatisfy(Transaction.isPlainIdentifier)
    }

    /// The upsert as `COPY` into a temporary table shaped like `table`, then one `INSERT … SELECT … ON CONFLICT`.
    func copyUpsert(_ prepared: Prepared, into table: String, on tx: Transaction) async throws {
        let stage = "switchboard_mirror_stage"
        let quoted = prepared.names.map(MirrorDatabase.quote).joined(separator: ", ")
        try await tx.run { sql in
            try await sql.raw("DROP TABLE IF EXISTS pg_temp.\(unsafeRaw: stage)").run()
            try await sql.raw("CREATE TEMP TABLE \(unsafeRaw: stage) (LIKE \(unsafeRaw: table) INCLUDING DEFAULTS) ON COMMIT DROP").run()
        }
        try await tx.copy(into: stage, columns: prepared.names, rows: prepared.values)
        try await tx.run { sql in
            try await sql.raw(
                "INSERT INTO \(unsafeRaw: table) AS \(unsafeRaw: UpsertStatement.existing) (\(unsafeRaw: quoted)) SELECT \(unsafeRaw: quoted) FROM \(unsafeRaw: stage) \(unsafeRaw: UpsertStatement.onConflict("id", columns: prepared.names))"
            ).run()
        }
    }

    /// The same rows as ``upsert(_:columns:records:multiValues:syncedAt:)`` written with a plain INSERT (no
    /// conflict handling, no multi-fields) into `table`, which must have the entity table's columns — the
    /// baseline `bench sync` compares upserts with.
    public func insertPlain(into table: String, columns: [MirrorColumn], records: [CRMRecord], syncedAt: Date) async throws {
        let prepared = prepare(columns: columns, records: records, syncedAt: syncedAt)
        let qualified = mirror.table(table)
        try await mirror.database.transaction { tx in
            if canCopy(tx, columns: prepared.names) {
                return try await tx.copy(into: table, schema: mirror.schema, columns: prepared.names, rows: prepared.values)
            }
            for chunk in prepared.values.chunked(into: prepared.perStatement) {
                let statement = UpsertStatement(table: qualified, columns: prepared.names, casts: prepared.casts, rows: Array(chunk), conflict: nil)
                try await tx.run { sql in try await sql.execute(sql: statement) { _ in } }
            }
        }
    }

    /// Rows as canonical text, with the column names, casts and rows per statement they are written with.
    struct Prepared {
        var names: [String]
        var casts: [String]
        var values: [[String?]]
        var ids: [Int64]
        var perStatement: Int
    }

    func prepare(columns: [MirrorColumn], records: [CRMRecord], syncedAt: Date) -> Prepared {
        // Last write wins inside one page too (an id twice in a page would fail ON CONFLICT on PostgreSQL).
        var unique: [Int64: CRMRecord] = [:]
        for record in records { unique[record.id] = record }
        let rows = unique.values.sorted { $0.id < $1.id }
        let fields = columns.filter { $0.role == .field && $0.active && $0.column != "id" }
        let labels = Dictionary(
            columns.filter { $0.role == .label }.map { ($0.crmField, $0.column) }, uniquingKeysWith: { first, _ in first })
        var names = ["id", "raw", "modified_at", "synced_at", "deleted_at"]
        var types: [MirrorFieldType] = [.integer, .json, .datetime, .datetime, .datetime]
        for field in fields {
            names.append(field.column)
            types.append(field.type)
            if let label = labels[field.crmField] {
                names.append(label)
                types.append(.text)
            }
        }
        let backend = mirror.backend
        let synced = backend == .postgres ? MirrorValues.postgresTimestamp(syncedAt) : MirrorValues.sqliteTimestamp(syncedAt)
        let values: [[String?]] = rows.map { record in
            var row: [String?] = [
                String(record.id), JSONValue.object(record.values).jsonText,
                record.modifiedAt.map { backend == .postgres ? MirrorValues.postgresTimestamp($0) : MirrorValues.sqliteTimestamp($0) },
                synced, nil,
            ]
            for field in fields {
                let value = record.values[field.crmField]
                row.append(MirrorValues.canonical(value, as: field.type, backend: backend))
                if labels[field.crmField] != nil { row.append(MirrorValues.label(value, enumValues: field.enumValues)) }
            }
            return row
        }
        return Prepared(
            names: names, casts: types.map { backend == .postgres ? "::" + schema.sqlType($0) : "" }, values: values, ids: rows.map(\.id),
            perStatement: max(1, min(Self.maxRowsPerStatement, Self.maxParameters / names.count)))
    }

    /// Replaces the multi-field values of `ids` with `values` (ids without values lose theirs).
    func replaceMultiValues(_ entity: MirrorEntity, ids: [Int64], values: [Int64: [CRMMultiValue]], on runner: any SQLRunner) async throws {
        let table = mirror.table(schema.multiFieldTable)
        for chunk in ids.chunked(into: 500) {
            let list = chunk.map(String.init).joined(separator: ",")
            try await runner.run { sql in
                try await sql.raw("DELETE FROM \(unsafeRaw: table) WHERE entity = \(bind: entity.name) AND entity_id IN (\(unsafeRaw: list))").run()
            }
        }
        var rows: [[String?]] = []
        for id in ids {
            for (position, value) in (values[id] ?? []).enumerated() {
                let e164 = value.field == "PHONE" ? PhoneNumber.e164(value.value, defaultCountry: defaultCountry) : nil
                rows.append([entity.name, String(id), String(position), value.field, value.valueType, value.value, e164])
            }
        }
        let columns = ["entity", "entity_id", "position", "field", "value_type", "value", "phone_e164"]
        let casts = mirror.backend == .postgres ? ["", "::BIGINT", "::INTEGER", "", "", "", ""] : Array(repeating: "", count: 7)
        if let tx = runner as? Transaction, canCopy(tx, columns: columns), !rows.isEmpty {
            return try await tx.copy(into: schema.multiFieldTable, schema: mirror.schema, columns: columns, rows: rows)
        }
        for chunk in rows.chunked(into: Self.maxParameters / columns.count) {
            let statement = UpsertStatement(table: table, columns: columns, casts: casts, rows: Array(chunk), conflict: nil)
            try await runner.run { sql in try await sql.execute(sql: statement) { _ in } }
        }
    }

    /// Marks rows deleted in the CRM (kept, with `deleted_at`); returns how many were live.
    @discardableResult
    public func markDeleted(_ entity: MirrorEntity, ids: [Int64], at date: Date) async throws -> Int {
        var marked = 0
        for chunk in ids.chunked(into: 500) {
            let list = chunk.map(String.init).joined(separator: ",")
            marked += try await execute(
                "UPDATE \(mirror.table(entity.table)) SET deleted_at = \(timestampLiteral(date)) WHERE deleted_at IS NULL AND id IN (\(list))")
        }
        return marked
    }

    /// Marks deleted every live row not seen since `since` (a full run's start): the CRM no longer has it.
    public func markUnseenDeleted(_ entity: MirrorEntity, since: Date, at date: Date) async throws -> Int {
        try await execute(
            "UPDATE \(mirror.table(entity.table)) SET deleted_at = \(timestampLiteral(date)) WHERE deleted_at IS NULL AND synced_at < \(timestampLiteral(since))"
        )
    }

    /// Live (not deleted) rows in the entity's table.
    public func liveCount(_ entity: MirrorEntity) async throws -> Int {
        try await mirror.database.run { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: mirror.table(entity.table)) WHERE deleted_at IS NULL").first()
        }.map { try $0.decode(column: "n", as: Int.self) } ?? 0
    }

    func timestampLiteral(_ date: Date) -> String {
        mirror.backend == .postgres ? "'\(MirrorValues.postgresTimestamp(date))'::timestamptz" : "'\(MirrorValues.sqliteTimestamp(date))'"
    }

    /// Runs an UPDATE and returns the rows it changed.
    func execute(_ statement: String) async throws -> Int {
        let counted = mirror.backend == .postgres ? "WITH changed AS (\(statement) RETURNING 1) SELECT COUNT(*) AS n FROM changed"
            : statement + " RETURNING 1"
        return try await mirror.database.run { sql in
            if mirror.backend == .postgres {
                return try await sql.raw(SQLQueryString(counted)).first().map { try $0.decode(column: "n", as: Int.self) } ?? 0
            }
            return try await sql.raw(SQLQueryString(counted)).all().count
        }
    }
}

/// `INSERT INTO t (…) VALUES (…), (…) [ON CONFLICT (id) DO UPDATE SET …]` with every value a bound
/// parameter, cast on PostgreSQL to the column's type (the values are canonical text).
struct UpsertStatement: SQLExpression {
    let table: String
    let columns: [String]
    let casts: [String]
    let rows: [[String?]]
    var conflict: String? = "id"

    func serialize(to serializer: inout SQLSerializer) {
        let quoted = columns.map(MirrorDatabase.quote)
        serializer.write("INSERT INTO \(table) AS \(Self.existing) (\(quoted.joined(separator: ", "))) VALUES ")
        for (rowIndex, row) in rows.enumerated() {
            serializer.write(rowIndex == 0 ? "(" : ", (")
            for (index, value) in row.enumerated() {
                if index > 0 { serializer.write(", ") }
                serializer.write(bind: value)
                serializer.write(casts[index])
            }
            serializer.write(")")
        }
        guard let conflict else { return }
        serializer.write(" " + Self.onConflict(conflict, columns: columns))
    }

    /// The stored row's name in the conflict clause.
    static let existing = "existing"

    /// `ON CONFLICT (key) DO UPDATE SET` every other column from the new row — unless the new row is older
    /// than the stored one (`modified_at`): a slow re-read that finishes after a newer one (two events, a sync
    /// and a webhook) must not put the old values back. It still counts as seen (`synced_at`).
    static func onConflict(_ key: String, columns: [String]) -> String {
        let guarded = columns.contains("modified_at")
        let updates = columns.filter { $0 != key }.map { column -> String in
            let name = MirrorDatabase.quote(column)
            guard guarded, column != "synced_at" else { return "\(name) = excluded.\(name)" }
            return "\(name) = CASE WHEN excluded.\"modified_at\" < \(existing).\"modified_at\" THEN \(existing).\(name) ELSE excluded.\(name) END"
        }
        return "ON CONFLICT (\(MirrorDatabase.quote(key))) DO UPDATE SET \(updates.joined(separator: ", "))"
    }
}
