import Foundation
import SwitchboardCore

/// A Bitrix24 portal as a mirror source: deals, contacts, leads and companies read fast (`start=-1`
/// keyset pages chained in one `batch`), plus the reference lists their ids point at — statuses
/// (stages, sources…), deal pipelines and users.
public struct Bitrix24MirrorSource: MirrorSource {
    public let client: Bitrix24Client
    public var crm: String { "bitrix24" }

    public init(client: Bitrix24Client) {
        self.client = client
    }

    /// Reference lists, read whole on every sync (they are small).
    enum Reference: String, CaseIterable {
        case status, category, user
        var table: String { self == .category ? "bitrix24_categories" : "bitrix24_\(rawValue)es".replacingOccurrences(of: "useres", with: "users") }
    }

    public var entities: [MirrorEntity] { Self.allEntities }

    /// What a Bitrix24 mirror holds: the four CRM entities (read incrementally) and the reference lists.
    public static var allEntities: [MirrorEntity] {
        Bitrix24Entity.allCases.map { MirrorEntity(name: $0.rawValue, table: $0.table, incremental: true) }
            + Reference.allCases.map { MirrorEntity(name: $0.rawValue, table: $0.table, incremental: false) }
    }

    // MARK: fields

    public func fields(_ entity: MirrorEntity) async throws -> [CRMField] {
        if let reference = Reference(rawValue: entity.name) { return Self.referenceFields(reference) }
        let crmEntity = try Self.entity(entity)
        let answer = try await client.batch([
            Bitrix24Command(key: "fields", method: "\(crmEntity.methodPrefix).fields", params: [:]),
            Bitrix24Command(key: "statuses", method: "crm.status.list", params: [:]),
            Bitrix24Command(key: "categories", method: "crm.category.list", params: ["entityTypeId": 2]),
        ])
        if let error = answer.errors["fields"] { throw error }
        var statuses: [String: [String: String]] = [:]
        for row in answer.results["statuses"]?.arrayValue ?? [] {
            guard let object = row.objectValue, let type = object["ENTITY_ID"]?.stringValue, let id = object["STATUS_ID"]?.stringValue else { continue }
            statuses[type, default: [:]][id] = object["NAME"]?.stringValue ?? id
        }
        var categories: [String: String] = ["0": "Общая"]
        for row in answer.results["categories"]?.objectValue?["categories"]?.arrayValue ?? [] {
            guard let object = row.objectValue, let id = object["id"]?.intValue else { continue }
            categories[String(id)] = object["name"]?.stringValue ?? String(id)
        }
        return Bitrix24Fields.map(answer.results["fields"]?.objectValue ?? [:], statuses: statuses, categories: categories)
    }

    static func referenceFields(_ reference: Reference) -> [CRMField] {
        switch reference {
        case .status:
            [
                CRMField(code: "ID", label: "ID", crmType: "integer", type: .integer),
                CRMField(code: "ENTITY_ID", label: "Справочник", crmType: "string", type: .text),
                CRMField(code: "STATUS_ID", label: "Код", crmType: "string", type: .text),
                CRMField(code: "NAME", label: "Название", crmType: "string", type: .text),
                CRMField(code: "SORT", label: "Сортировка", crmType: "integer", type: .integer),
                CRMField(code: "CATEGORY_ID", label: "Воронка", crmType: "crm_category", type: .integer, reference: "category"),
                CRMField(code: "SEMANTICS", label: "Семантика (success / failure / process)", crmType: "string", type: .text),
            ]
        case .category:
            [
                CRMField(code: "id", label: "ID", crmType: "integer", type: .integer),
                CRMField(code: "name", label: "Воронка", crmType: "string", type: .text),
                CRMField(code: "sort", label: "Сортировка", crmType: "integer", type: .integer),
                CRMField(code: "isDefault", label: "Основная", crmType: "char", type: .boolean),
            ]
        case .user:
            [
                CRMField(code: "ID", label: "ID", crmType: "integer", type: .integer),
                CRMField(code: "NAME", label: "Имя", crmType: "string", type: .text),
                CRMField(code: "LAST_NAME", label: "Фамилия", crmType: "string", type: .text),
                CRMField(code: "EMAIL", label: "E-mail", crmType: "string", type: .text),
                CRMField(code: "ACTIVE", label: "Активен", crmType: "boolean", type: .boolean),
                CRMField(code: "WORK_POSITION", label: "Должность", crmType: "string", type: .text),
                CRMField(code: "UF_PHONE_INNER", label: "Внутренний номер", crmType: "string", type: .text),
            ]
        }
    }

    // MARK: records

    public func page(_ entity: MirrorEntity, afterID: Int64?, modifiedSince: Date?, previousCount: Int) async throws -> CRMPage {
        if let reference = Reference(rawValue: entity.name) {
            let all = try await referenceRows(reference).filter { $0.id > (afterID ?? Int64.min) }
            return CRMPage(records: all, isLast: true)
        }
        let crmEntity = try Self.entity(entity)
        // One 50-row page first; once pages come back full, chain twice as many per request, up to 50.
        let pages = previousCount < 50 ? 1 : min(Bitrix24Client.maxBatchCommands, max(2, previousCount / 50 * 2))
        var filter: [String: JSONValue] = [">ID": .number(Double(afterID ?? 0))]
        if let modifiedSince { filter[">=DATE_MODIFY"] = .string(Bitrix24Dates.format(modifiedSince)) }
        let select: [JSONValue] = (["*", "UF_*"] + crmEntity.multiFields).map(JSONValue.string)
        var commands: [Bitrix24Command] = []
        for index in 0..<pages {
            var pageFilter = filter
            if index > 0 { pageFilter[">ID"] = .string("$result[\(Self.pageKey(index - 1))][49][ID]") }
            commands.append(Bitrix24Command(
                key: Self.pageKey(index), method: "\(crmEntity.methodPrefix).list",
                params: ["order": ["ID": "ASC"], "filter": .object(pageFilter), "select": .array(select), "start": -1]))
        }
        let answer = try await client.batch(commands, halt: true)
        var records: [CRMRecord] = []
        for index in 0..<pages {
            if let error = answer.errors[Self.pageKey(index)] { throw error }
            guard let rows = answer.results[Self.pageKey(index)]?.arrayValue else {
                throw Bitrix24Error(status: 200, code: "", message: "batch answered no rows for page \(Self.pageKey(index))")
            }
            records += try rows.map(Self.record)
            // A short page is the end; later pages referred to a row that does not exist and mean nothing.
            if rows.count < 50 { return CRMPage(records: records, isLast: true) }
        }
        return CRMPage(records: records, isLast: false)
    }

    public func records(_ entity: MirrorEntity, ids: [Int64]) async throws -> [CRMRecord] {
        if let reference = Reference(rawValue: entity.name) {
            let wanted = Set(ids)
            return try await referenceRows(reference).filter { wanted.contains($0.id) }
        }
        let crmEntity = try Self.entity(entity)
        let select: [JSONValue] = (["*", "UF_*"] + crmEntity.multiFields).map(JSONValue.string)
        var records: [CRMRecord] = []
        for group in Array(Set(ids)).sorted().chunked(into: 50 * Bitrix24Client.maxBatchCommands) {
            let commands = Array(group).chunked(into: 50).enumerated().map { index, chunk in
                Bitrix24Command(
                    key: "r\(index)", method: "\(crmEntity.methodPrefix).list",
                    params: ["filter": ["@ID": .array(chunk.map { .number(Double($0)) })], "select": .array(select), "start": -1])
            }
            let answer = try await client.batch(commands)
            for command in commands {
                if let error = answer.errors[command.key] { throw error }
                records += try (answer.results[command.key]?.arrayValue ?? []).map(Self.record)
            }
        }
        return records
    }

    public func count(_ entity: MirrorEntity) async throws -> Int? {
        if let reference = Reference(rawValue: entity.name) { return try await referenceRows(reference).count }
        let crmEntity = try Self.entity(entity)
        let answer = try await client.call("\(crmEntity.methodPrefix).list", ["select": ["ID"], "start": 0])
        return answer.total ?? answer.result.arrayValue?.count ?? 0
    }

    public func multiValues(_ record: CRMRecord, fields: [CRMField]) -> [CRMMultiValue] {
        var values: [CRMMultiValue] = []
        for field in fields where field.isMultiField {
            for item in record.values[field.code]?.arrayValue ?? [] {
                guard let object = item.objectValue, let value = object["VALUE"]?.stringValue, !value.isEmpty else { continue }
                values.append(CRMMultiValue(field: field.code, valueType: object["VALUE_TYPE"]?.stringValue, value: value))
            }
        }
        return values
    }

    // MARK: helpers

    /// `p00`, `p01`…: a batch runs its commands in the order the JSON body lists them, and the body's keys
    /// are sorted — so the names must sort in page order, or a page would refer to one not read yet.
    static func pageKey(_ index: Int) -> String { index < 10 ? "p0\(index)" : "p\(index)" }

    static func entity(_ entity: MirrorEntity) throws -> Bitrix24Entity {
        guard let crmEntity = Bitrix24Entity(rawValue: entity.name) else {
            throw SwitchboardError.invalid("entity", "Bitrix24 has no entity '\(entity.name)'")
        }
        return crmEntity
    }

    static func record(_ row: JSONValue) throws -> CRMRecord {
        guard let object = row.objectValue, let id = object["ID"]?.intValue ?? object["id"]?.intValue else {
            throw Bitrix24Error(status: 200, code: "", message: "a row without an ID")
        }
        let modified = object["DATE_MODIFY"]?.stringValue.flatMap(Bitrix24Dates.parse)
        return CRMRecord(id: Int64(id), values: object, modifiedAt: modified)
    }

    /// A reference list, all of it, by ascending id (`user.get` and `crm.category.list` page by 50).
    func referenceRows(_ reference: Reference) async throws -> [CRMRecord] {
        var rows: [JSONValue] = []
        switch reference {
        case .status:
            rows = try await client.call("crm.status.list", ["order": ["ID": "ASC"]]).result.arrayValue ?? []
        case .category, .user:
            var start = 0
            for _ in 0..<2_000 {
                let answer = reference == .user
                    ? try await client.call("user.get", ["sort": "ID", "order": "ASC", "start": .number(Double(start))])
                    : try await client.call("crm.category.list", ["entityTypeId": 2, "start": .number(Double(start))])
                rows += reference == .user ? answer.result.arrayValue ?? [] : answer.result.objectValue?["categories"]?.arrayValue ?? []
                guard let next = answer.next, next > start else { break }
                start = next
            }
        }
        return try rows.map(Self.record).sorted { $0.id < $1.id }
    }
}

/// Bitrix24's date-times: ISO-8601 with an offset (`2024-09-02T18:37:18+02:00`).
public enum Bitrix24Dates {
    /// Read by hand: a formatter per record cost half of a full sync's CPU.
    public static func parse(_ text: String) -> Date? { CivilCalendar.parseTimestamp(text) }

    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
