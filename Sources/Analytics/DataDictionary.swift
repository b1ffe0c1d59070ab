import Foundation
import Mirror
import SQLKit
import Storage
import SwitchboardCore

/// What a tenant's mirror holds, for people and for the question planners: every table and column with its
/// SQL name and type, the CRM field it comes from, labels (Russian, and English where known), enum values,
/// keys and the joins between tables, row counts, null ratios and a few example values with personal data
/// masked. Built from the mirror catalog and the data, so it is always current.
public struct DataDictionary: Sendable, Codable, Equatable {
    public var generatedAt: Date
    /// `sqlite` or `postgres`: the SQL dialect questions are answered in.
    public var dialect: String
    public var tables: [Table]

    enum CodingKeys: String, CodingKey { case generatedAt = "generated_at", dialect, tables }

    public struct Table: Sendable, Codable, Equatable {
        public var name: String
        public var crm: String
        public var entity: String
        public var labelRU: String
        public var labelEN: String
        /// Live rows (not deleted in the CRM).
        public var rows: Int
        /// Rows kept with `deleted_at` set.
        public var deletedRows: Int
        public var columns: [Column]
        public var joins: [Join]

        enum CodingKeys: String, CodingKey {
            case name, crm, entity, rows, columns, joins
            case labelRU = "label_ru", labelEN = "label_en", deletedRows = "deleted_rows"
        }
    }

    public struct Column: Sendable, Codable, Equatable {
        public var name: String
        public var sqlType: String
        public var crmField: String
        public var labelRU: String
        public var labelEN: String?
        /// `field`, `label` (an enum value's label), `multi`, `system`.
        public var role: String
        public var crmType: String
        public var enumValues: [EnumValue]
        /// `primary` for `id`, `foreign` for a column that points at another table's rows.
        public var key: String?
        /// `table.column` the value points at.
        public var references: String?
        /// Share of live rows where the column is empty (0…1).
        public var nullRatio: Double
        /// Up to three values from the table, personal data masked.
        public var examples: [String]
        /// False once the CRM dropped the field (the column and its values stay).
        public var active: Bool

        enum CodingKeys: String, CodingKey {
            case name, role, key, references, examples, active
            case sqlType = "sql_type", crmField = "crm_field", labelRU = "label_ru", labelEN = "label_en", crmType = "crm_type"
            case enumValues = "enum_values", nullRatio = "null_ratio"
        }
    }

    public struct EnumValue: Sendable, Codable, Equatable {
        public var value: String
        public var label: String
    }

    /// A join the planners may use: `from` = `to`, optionally with a condition on the target.
    public struct Join: Sendable, Codable, Equatable {
        public var from: String
        public var to: String
        public var condition: String?
    }
}

extension DataDictionary {
    /// Reads the dictionary of `mirror` (its catalog, then — with `statistics` — one count and one sample
    /// query per table; the planner needs only the catalog).
    public static func build(_ mirror: MirrorDatabase, statistics: Bool = true) async throws -> DataDictionary {
        let catalog = try await MirrorCatalog(mirror).columns()
        let byTable = Dictionary(grouping: catalog, by: \.table)
        // Where each CRM entity lives, to resolve what a column refers to.
        var entityTables: [String: String] = [:]
        for column in catalog { entityTables["\(column.crm)|\(column.entity)"] = column.table }
        var tables: [Table] = []
        for name in byTable.keys.sorted() {
            let columns = byTable[name] ?? []
            guard let first = columns.first else { continue }
            tables.append(try await table(
                name, columns: columns, crm: first.crm, entity: first.entity, entityTables: entityTables, mirror: mirror, statistics: statistics))
        }
        let multi = Set(catalog.filter { $0.role == .multi }.map(\.crm))
        if statistics { for crm in multi.sorted() { tables.append(try await multiFieldTable(crm: crm, mirror: mirror)) } }
        return DataDictionary(generatedAt: Date(), dialect: mirror.backend.rawValue, tables: tables)
    }

    static func table(
        _ name: String, columns catalog: [MirrorColumn], crm: String, entity: String, entityTables: [String: String], mirror: MirrorDatabase,
        statistics: Bool
    ) async throws -> Table {
        let stored = catalog.filter { $0.role != .multi }
        let names = ["id"] + stored.map(\.column).filter { $0 != "id" }
        let (live, deleted, filled) = statistics ? try await counts(mirror.table(name), columns: names, mirror: mirror) : (0, 0, [:])
        let samples = statistics ? try await samples(mirror.table(name), columns: names.filter { $0 != "raw" }, mirror: mirror) : [:]
        let schema = MirrorSchema(mirror: mirror, crm: crm)
        var columns: [Column] = []
        var joins: [Join] = []
        for column in catalog {
            let isMulti = column.role == .multi
            let target = Self.target(column, entityTables: entityTables)
            if let target { joins.append(Join(from: "\(name).\(column.column)", to: target.to, condition: target.condition)) }
            let personal = DictionaryMasking.isPersonal(column)
            columns.append(Column(
                name: isMulti ? "\(crm)_multifields[\(column.crmField)]" : column.column,
                sqlType: isMulti ? "rows of \(crm)_multifields" : schema.sqlType(column.type),
                crmField: column.crmField, labelRU: column.label, labelEN: DictionaryLabels.english(column),
                role: column.role.rawValue, crmType: column.crmType,
                enumValues: column.enumValues.sorted { $0.key < $1.key }.map { EnumValue(value: $0.key, label: $0.value) },
                key: column.column == "id" ? "primary" : (target == nil ? nil : "foreign"),
                references: target?.to, nullRatio: isMulti || live == 0 ? 0 : 1 - Double(filled[column.column] ?? 0) / Double(live),
                examples: (samples[column.column] ?? []).map { DictionaryMasking.mask($0, personal: personal) }, active: column.active))
        }
        if catalog.contains(where: { $0.role == .multi }) {
            joins.append(Join(from: "\(name).id", to: "\(crm)_multifields.entity_id", condition: "\(crm)_multifields.entity = '\(entity)'"))
        }
        let labels = DictionaryLabels.table(entity, crm: crm)
        return Table(name: name, crm: crm, entity: entity, labelRU: labels.ru, labelEN: labels.en, rows: live, deletedRows: deleted, columns: columns, joins: joins)
    }

    /// The table and column a column's value points at, with the condition that picks the right rows.
    static func target(_ column: MirrorColumn, entityTables: [String: String]) -> (to: String, condition: String?)? {
        guard column.role == .field, let reference = column.reference else { return nil }
        if reference.hasPrefix("status:"), let statuses = entityTables["\(column.crm)|status"] {
            // Bitrix24's stages and sources share one list, told apart by ENTITY_ID.
            return ("\(statuses).status_id", "\(statuses).entity_id = '\(reference.dropFirst(7))'")
        }
        if reference == "phone" {
            // A call joins the contacts of whichever CRM is mirrored, by the caller's number.
            guard let crm = ["bitrix24", "amocrm"].first(where: { entityTables["\($0)|contact"] != nil }) else { return nil }
            return ("\(crm)_multifields.phone_e164", "\(crm)_multifields.field = 'PHONE'")
        }
        guard let table = entityTables["\(column.crm)|\(reference)"] ?? entityTables["\(column.crm == "switchboard" ? "bitrix24" : column.crm)|\(reference)"] else {
            return nil
        }
        return ("\(table).id", nil)
    }

    /// Live rows, deleted rows, and per column how many live rows have a value.
    static func counts(_ table: String, columns: [String], mirror: MirrorDatabase) async throws -> (Int, Int, [String: Int]) {
        let filled = columns.enumerated().map { "COUNT(\(MirrorDatabase.quote($0.element))) AS c\($0.offset)" }.joined(separator: ", ")
        let row = try await mirror.database.run { sql in
            try await sql.raw(SQLQueryString(
                "SELECT COUNT(*) AS live, \(filled), (SELECT COUNT(*) FROM \(table) WHERE deleted_at IS NOT NULL) AS gone FROM \(table) WHERE deleted_at IS NULL"
            )).first()
        }
        guard let row else { return (0, 0, [:]) }
        func number(_ name: String) -> Int { (try? row.decode(column: name, as: Int.self)) ?? 0 }
        var result: [String: Int] = [:]
        for (index, column) in columns.enumerated() { result[column] = number("c\(index)") }
        return (number("live"), number("gone"), result)
    }

    /// Up to three different values per column from the first live rows.
    static func samples(_ table: String, columns: [String], mirror: MirrorDatabase) async throws -> [String: [String]] {
        let selected = columns.enumerated().map { "CAST(\(MirrorDatabase.quote($0.element)) AS TEXT) AS c\($0.offset)" }.joined(separator: ", ")
        let rows = try await mirror.database.run { sql in
            try await sql.raw(SQLQueryString("SELECT \(selected) FROM \(table) WHERE deleted_at IS NULL ORDER BY id LIMIT 200")).all()
        }
        var result: [String: [String]] = [:]
        for row in rows {
            for (index, column) in columns.enumerated() where (result[column]?.count ?? 0) < 3 {
                guard let text = try? row.decode(column: "c\(index)", as: String?.self), !text.isEmpty, !(result[column] ?? []).contains(text) else { continue }
                result[column, default: []].append(text.count > 80 ? String(text.prefix(77)) + "…" : text)
            }
        }
        return result
    }

    /// `<crm>_multifields`: the phones and e-mails of every entity, one row per value.
    static func multiFieldTable(crm: String, mirror: MirrorDatabase) async throws -> Table {
        let name = "\(crm)_multifields"
        let total = try await mirror.database.run { sql in
            try await sql.raw(SQLQueryString("SELECT COUNT(*) AS n FROM \(mirror.table(name))")).first()?.decode(column: "n", as: Int.self)
        } ?? 0
        let text = "TEXT"
        func column(_ name: String, _ type: String, _ ru: String, _ en: String, key: String? = nil, references: String? = nil) -> Column {
            Column(
                name: name, sqlType: type, crmField: name, labelRU: ru, labelEN: en, role: "system", crmType: "multifield", enumValues: [], key: key,
                references: references, nullRatio: 0, examples: [], active: true)
        }
        let columns = [
            column("entity", text, "Сущность (contact, company, lead…)", "Entity (contact, company, lead…)"),
            column("entity_id", "BIGINT", "ID записи", "Record id", key: "foreign"),
            column("position", "INTEGER", "Порядок", "Position"),
            column("field", text, "Поле (PHONE, EMAIL…)", "Field (PHONE, EMAIL…)"),
            column("value_type", text, "Тип (WORK, MOBILE…)", "Kind (WORK, MOBILE…)"),
            column("value", text, "Значение (персональные данные)", "Value (personal data)"),
            column("phone_e164", text, "Телефон в E.164", "Phone in E.164"),
        ]
        return Table(
            name: name, crm: crm, entity: "multifield", labelRU: "Телефоны и e-mail", labelEN: "Phones and e-mails", rows: total, deletedRows: 0,
            columns: columns, joins: [])
    }
}
