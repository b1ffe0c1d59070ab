import Foundation
import SQLKit
import Storage
import SwitchboardCore

/// Keeps a mirror table in step with the CRM's field metadata: creates it, adds a column (and a label
/// column for enumerated fields) for every new field, marks fields the CRM dropped as inactive (their
/// columns and values stay), and turns a column whose type changed into text so no value is lost.
/// Every change is one transaction, so the table and the catalog never disagree.
public struct MirrorSchema: Sendable {
    public let mirror: MirrorDatabase
    public let crm: String

    public init(mirror: MirrorDatabase, crm: String) {
        self.mirror = mirror
        self.crm = crm
    }

    /// What one call of ``ensure(_:fields:)`` changed.
    public struct Changes: Sendable, Equatable {
        public var added: [String] = []
        public var deactivated: [String] = []
        public var retyped: [String] = []
        public var isEmpty: Bool { added.isEmpty && deactivated.isEmpty && retyped.isEmpty }
    }

    /// The columns every mirror table has besides the CRM's fields.
    static let systemColumns = ["id", "raw", "modified_at", "synced_at", "deleted_at"]

    /// The table multi-field values of this CRM's entities go to (`bitrix24_multifields`).
    public var multiFieldTable: String { "\(crm)_multifields" }

    /// Brings `entity`'s table up to `fields`; returns the table's field columns as they now are.
    @discardableResult
    public func ensure(_ entity: MirrorEntity, fields: [CRMField]) async throws -> (columns: [MirrorColumn], changes: Changes) {
        let catalog = MirrorCatalog(mirror)
        // Cheap check first: nothing to do when the catalog already matches (the common case on every page).
        let known = try await catalog.columns(table: entity.table)
        if !known.isEmpty, plan(entity, fields: fields, known: known).isEmpty { return (known, Changes()) }
        return try await mirror.database.transaction { tx in
            if mirror.backend == .postgres {
                // Two jobs of one tenant (syncs of two entities, a sync and an event) must not create the shared
                // tables or add the same column at once: one DDL writer per mirror.
                try await tx.run { sql in
                    try await sql.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: mirror.table(MirrorCatalog.tableName))))").run()
                }
            }
            try await catalog.createTable(on: tx)
            try await createBaseTables(entity, fields: fields, on: tx)
            let known = try await catalog.columns(table: entity.table, on: tx)
            var changes = Changes()
            var columns = Dictionary(uniqueKeysWithValues: known.map { ($0.column, $0) })
            let now = Date.storageNow
            for system in Self.systemColumns where columns[system] == nil {
                let column = systemColumn(entity, system, now: now)
                try await catalog.upsert(column, on: tx)
                columns[system] = column
            }
            var seen: Set<String> = []
            for field in fields {
                let role: MirrorColumn.Role = field.isMultiField ? .multi : .field
                let existing = known.first { $0.role == role && $0.crmField == field.code }
                let name = existing?.column ?? Self.columnName(for: field.code, taken: Set(columns.keys))
                seen.insert(name)
                var column = MirrorColumn(
                    table: entity.table, column: name, crm: crm, entity: entity.name, crmField: field.code, label: field.label,
                    crmType: field.crmType, type: field.isMultiField ? .text : field.type, role: role, enumValues: field.enumValues,
                    reference: field.reference, firstSeenAt: existing?.firstSeenAt ?? now, lastSeenAt: now)
                if field.isMultiField || name == "id" {
                    // Multi-field values live in the child table (the catalog row says where); the CRM's id is the key.
                } else if let existing {
                    if existing.type != field.type && existing.type != .text {
                        try await retype(entity.table, column: name, on: tx)
                        changes.retyped.append(name)
                        column.type = .text
                    } else if existing.type == .text {
                        column.type = .text  // once widened to text, a column stays text
                    }
                } else {
                    try await addColumn(entity.table, name: name, type: field.type, on: tx)
                    changes.added.append(name)
                }
                if existing != column { try await catalog.upsert(column, on: tx) }
                columns[name] = column
                if !field.isMultiField && Self.hasLabel(field) {
                    let labelName = name + "_label"
                    if columns[labelName] == nil {
                        try await addColumn(entity.table, name: labelName, type: .text, on: tx)
                        changes.added.append(labelName)
                    }
                    let label = MirrorColumn(
                        table: entity.table, column: labelName, crm: crm, entity: entity.name, crmField: field.code,
                        label: "\(field.label) (название)", crmType: field.crmType, type: .text, role: .label,
                        firstSeenAt: columns[labelName]?.firstSeenAt ?? now, lastSeenAt: now)
                    if columns[labelName] != label { try await catalog.upsert(label, on: tx) }
                    columns[labelName] = label
                }
            }
            for column in known where (column.role == .field || column.role == .multi) && column.active && !seen.contains(column.column) {
                var gone = column
                gone.active = false
                try await catalog.upsert(gone, on: tx)
                columns[column.column] = gone
                changes.deactivated.append(column.column)
            }
            return (try await catalog.columns(table: entity.table, on: tx), changes)
        }
    }

    /// Whether `fields` would change anything given the catalog's `known` columns.
    func plan(_ entity: MirrorEntity, fields: [CRMField], known: [MirrorColumn]) -> Changes {
        var changes = Changes()
        let byField = Dictionary(
            known.filter { $0.role == .field || $0.role == .multi }.map { ($0.crmField, $0) }, uniquingKeysWith: { first, _ in first })
        var seen: Set<String> = []
        for field in fields {
            seen.insert(field.code)
            guard let column = byField[field.code], (column.role == .multi) == field.isMultiField else {
                changes.added.append(field.code)
                continue
            }
            if !column.active || column.label != field.label || column.enumValues != field.enumValues || column.crmType != field.crmType
                || (!field.isMultiField && column.type != field.type && column.type != .text) || column.reference != field.reference
            {
                changes.retyped.append(field.code)
            }
        }
        for column in byField.values where column.active && !seen.contains(column.crmField) { changes.deactivated.append(column.column) }
        return changes
    }

    static func hasLabel(_ field: CRMField) -> Bool {
        !field.enumValues.isEmpty || ["crm_status", "crm_category", "enumeration"].contains(field.crmType)
    }

    /// A column name from a CRM code: lower case, `[a-z0-9_]`, not a system column, at most 55 characters.
    static func columnName(for code: String, taken: Set<String>) -> String {
        var name = String(code.lowercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" })
        if name.isEmpty || name.first!.isNumber { name = "f_" + name }
        if name.count > 55 { name = String(name.prefix(55)) }
        if systemColumns.contains(name) && name != "id" { name = "crm_" + name }
        if name.hasSuffix("_label") { name += "_" }
        var candidate = name
        var suffix = 2
        // `id` is the key: the CRM's ID field maps onto it.
        while taken.contains(candidate) && !(candidate == "id" && code.lowercased() == "id") {
            candidate = "\(name)_\(suffix)"
            suffix += 1
        }
        return candidate
    }

    func systemColumn(_ entity: MirrorEntity, _ name: String, now: Date) -> MirrorColumn {
        let (label, type): (String, MirrorFieldType) =
            switch name {
            case "id": ("ID", .integer)
            case "raw": ("Запись CRM целиком (JSON)", .json)
            case "modified_at": ("Изменена в CRM", .datetime)
            case "synced_at": ("Получена зеркалом", .datetime)
            default: ("Удалена в CRM", .datetime)
            }
        return MirrorColumn(
            table: entity.table, column: name, crm: crm, entity: entity.name, crmField: name, label: label, crmType: "system",
            type: type, role: .system, firstSeenAt: now, lastSeenAt: now)
    }

    // MARK: DDL

    /// The SQL type a mirror value type is stored as on this backend.
    public func sqlType(_ type: MirrorFieldType) -> String {
        switch (type, mirror.backend) {
        case (.text, _): "TEXT"
        case (.integer, _): "BIGINT"
        case (.decimal, _): "NUMERIC"
        case (.boolean, .postgres): "BOOLEAN"
        case (.boolean, .sqlite): "INTEGER"
        case (.date, .postgres): "DATE"
        case (.datetime, .postgres): "TIMESTAMPTZ"
        case (.json, .postgres): "JSONB"
        case (.date, .sqlite), (.datetime, .sqlite), (.json, .sqlite): "TEXT"
        }
    }

    func createBaseTables(_ entity: MirrorEntity, fields: [CRMField], on runner: any SQLRunner) async throws {
        let table = mirror.table(entity.table)
        let (json, timestamp) = (sqlType(.json), sqlType(.datetime))
        var statements = [
            """
            CREATE TABLE IF NOT EXISTS \(table) (id BIGINT PRIMARY KEY, raw \(json), modified_at \(timestamp),
                synced_at \(timestamp) NOT NULL, deleted_at \(timestamp))
            """
        ]
        if fields.contains(where: \.isMultiField) {
            let multi = mirror.table(multiFieldTable)
            let index = MirrorDatabase.quote("\(multiFieldTable)_phone")
            statements += [
                """
                CREATE TABLE IF NOT EXISTS \(multi) (entity TEXT NOT NULL, entity_id BIGINT NOT NULL, position INTEGER NOT NULL,
                    field TEXT NOT NULL, value_type TEXT, value TEXT NOT NULL, phone_e164 TEXT, PRIMARY KEY (entity, entity_id, position))
                """,
                "CREATE INDEX IF NOT EXISTS \(index) ON \(multi) (phone_e164)",
            ]
        }
        let all = statements
        try await runner.run { sql in
            for statement in all { try await sql.raw(SQLQueryString(statement)).run() }
        }
    }

    func addColumn(_ table: String, name: String, type: MirrorFieldType, on runner: any SQLRunner) async throws {
        let statement = "ALTER TABLE \(mirror.table(table)) ADD COLUMN \(MirrorDatabase.quote(name)) \(sqlType(type))"
        try await runner.run { sql in try await sql.raw(SQLQueryString(statement)).run() }
    }

    /// Widens a column to text. SQLite columns take any value already, so only the catalog changes there.
    func retype(_ table: String, column: String, on runner: any SQLRunner) async throws {
        guard mirror.backend == .postgres else { return }
        let name = MirrorDatabase.quote(column)
        let statement = "ALTER TABLE \(mirror.table(table)) ALTER COLUMN \(name) TYPE TEXT USING \(name)::text"
        try await runner.run { sql in try await sql.raw(SQLQueryString(statement)).run() }
    }
}
