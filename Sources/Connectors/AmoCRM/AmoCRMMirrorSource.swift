import Foundation
import SwitchboardCore

/// An amoCRM / Kommo account as a mirror source: leads (with their contact and company links), contacts
/// and companies read incrementally, custom fields as typed columns, and the reference lists their ids
/// point at — pipelines, statuses, users.
///
/// amoCRM pages by number, not by id, and cannot filter `id > n`. Pages are read in id order
/// (`order[id]=asc`), so new records land at the end; a record deleted mid-run shifts later pages left,
/// which could skip one. So every page after the first starts a few records *before* where the last one
/// ended (its size varies between 200 and 250 so a page boundary can fall anywhere), and a page is only
/// trusted when it reaches back to an id already read — otherwise the read steps back until it does.
/// amoCRM has no record counts; a full run's completeness comes from that overlap instead.
public struct AmoCRMMirrorSource: MirrorSource {
    public let client: AmoCRMClient
    public let mapping: AmoCRMLeadMapping
    public var crm: String { "amocrm" }
    /// Where the run's last page ended, so the next one need not search for it.
    let positions = AmoCRMPagePositions()

    /// How many records before the last one read each page starts (deletions tolerated between two pages).
    static let overlap = 5

    public init(client: AmoCRMClient, mapping: AmoCRMLeadMapping = AmoCRMLeadMapping()) {
        self.client = client
        self.mapping = mapping
    }

    /// The entities a CRM record list comes from.
    enum Kind: String, CaseIterable {
        case lead, contact, company
        var path: String { "/api/v4/" + plural }
        var plural: String { self == .company ? "companies" : rawValue + "s" }
        var table: String { "amocrm_" + plural }
    }

    /// Reference lists, read whole on every sync.
    enum Reference: String, CaseIterable {
        case pipeline, status, user
        var table: String { "amocrm_\(rawValue)es".replacingOccurrences(of: "useres", with: "users").replacingOccurrences(of: "pipelinees", with: "pipelines") }
    }

    public var entities: [MirrorEntity] { Self.allEntities }

    public static var allEntities: [MirrorEntity] {
        Kind.allCases.map { MirrorEntity(name: $0.rawValue, table: $0.table, incremental: true) }
            + Reference.allCases.map { MirrorEntity(name: $0.rawValue, table: $0.table, incremental: false) }
    }

    // MARK: fields

    public func fields(_ entity: MirrorEntity) async throws -> [CRMField] {
        if let reference = Reference(rawValue: entity.name) { return AmoCRMFields.reference(reference.rawValue) }
        let kind = try Self.kind(entity)
        var custom: [JSONValue] = []
        try await client.pages(kind.path + "/custom_fields", embedded: "custom_fields", limit: 250) { custom += $0 }
        var standard = AmoCRMFields.standard(kind.rawValue)
        if kind == .lead {
            let (pipelines, statuses) = try await pipelinesAndStatuses()
            standard = standard.map { field in
                var field = field
                if field.code == "status_id" { field.enumValues = Dictionary(statuses.map { (String($0.id), $0.values["name"]?.stringValue ?? "") }, uniquingKeysWith: { first, _ in first }) }
                if field.code == "pipeline_id" { field.enumValues = Dictionary(pipelines.map { (String($0.id), $0.values["name"]?.stringValue ?? "") }, uniquingKeysWith: { first, _ in first }) }
                return field
            }
        }
        return standard + custom.compactMap(AmoCRMFields.custom)
    }

    // MARK: records

    public func page(_ entity: MirrorEntity, afterID: Int64?, modifiedSince: Date?, previousCount: Int) async throws -> CRMPage {
        if let reference = Reference(rawValue: entity.name) {
            return CRMPage(records: try await referenceRows(reference).filter { $0.id > (afterID ?? Int64.min) }, isLast: true)
        }
        let kind = try Self.kind(entity)
        var query: [(String, String)] = [("order[id]", "asc")]
        if kind == .lead { query.append(("with", "contacts")) }
        if let modifiedSince { query.append(("filter[updated_at][from]", String(Int64(modifiedSince.timeIntervalSince1970.rounded(.down))))) }
        let key = entity.name + "|" + (modifiedSince.map { String($0.timeIntervalSince1970) } ?? "")
        guard let afterID else {
            let (rows, hasNext) = try await client.page(kind.path, embedded: kind.plural, query: query + [("limit", "250"), ("page", "1")])
            let records = try rows.map(record)
            if let last = records.last { await positions.remember(key, after: last.id, position: records.count) }
            return CRMPage(records: records, isLast: !hasNext || rows.count < 250)
        }
        var start = await positions.position(key, after: afterID)
        if start == nil { start = try await seek(kind, query: query, after: afterID) }
        var position = start ?? 0
        for _ in 0..<1_000 {
            let (limit, page) = Self.window(covering: max(0, position - Self.overlap))
            let windowStart = limit * (page - 1)
            let (rows, hasNext) = try await client.page(kind.path, embedded: kind.plural, query: query + [("limit", String(limit)), ("page", String(page))])
            let records = try rows.map(record)
            let isLast = !hasNext || rows.count < limit
            guard windowStart == 0 || records.first.map({ $0.id <= afterID }) == true else {
                // Deletions moved records before this window (or it lies past the end): step back until it
                // reaches what was read.
                position = max(0, position - 250)
                continue
            }
            let fresh = records.filter { $0.id > afterID }
            if fresh.isEmpty && !isLast {
                position = windowStart + rows.count  // records changed mid-run slid in before: read on
                continue
            }
            if let last = fresh.last { await positions.remember(key, after: last.id, position: windowStart + rows.count) }
            return CRMPage(records: fresh, isLast: isLast)
        }
        throw AmoCRMError(status: 502, title: "Bad Gateway", detail: "amoCRM's \(kind.plural) pages did not settle; the sync will try again", fields: [])
    }

    /// `(limit, page)` of the page that starts at or just before `offset` and reaches furthest past it.
    static func window(covering offset: Int) -> (limit: Int, page: Int) {
        var best = (limit: 250, page: offset / 250 + 1)
        for limit in 200...250 {
            let page = offset / limit + 1
            if limit * page > best.limit * best.page { best = (limit, page) }
        }
        return best
    }

    /// How many records come before the first one after `afterID` (a run resumed by another process),
    /// found with one-record pages: doubling, then halving.
    func seek(_ kind: Kind, query: [(String, String)], after afterID: Int64) async throws -> Int {
        func id(at position: Int) async throws -> Int64? {
            let (rows, _) = try await client.page(kind.path, embedded: kind.plural, query: query + [("limit", "1"), ("page", String(position + 1))])
            return try rows.first.map(record)?.id
        }
        var low = 0  // every position below `low` holds an id ≤ afterID
        var high = 1
        while let found = try await id(at: high - 1), found <= afterID {
            low = high
            high *= 2
            if high > 1 << 30 { break }
        }
        while low < high - 1 {
            let middle = (low + high) / 2
            if let found = try await id(at: middle - 1), found <= afterID { low = middle } else { high = middle }
        }
        return low
    }

    public func records(_ entity: MirrorEntity, ids: [Int64]) async throws -> [CRMRecord] {
        if let reference = Reference(rawValue: entity.name) {
            let wanted = Set(ids)
            return try await referenceRows(reference).filter { wanted.contains($0.id) }
        }
        let kind = try Self.kind(entity)
        var records: [CRMRecord] = []
        for chunk in Array(Set(ids)).sorted().chunked(into: 100) {
            var query: [(String, String)] = chunk.enumerated().map { ("filter[id][\($0.offset)]", String($0.element)) }
            if kind == .lead { query.append(("with", "contacts")) }
            try await client.pages(kind.path, embedded: kind.plural, query: query, limit: 250) { rows in records += try rows.map(record) }
        }
        return records.sorted { $0.id < $1.id }
    }

    /// amoCRM tells no totals; only the reference lists can be counted.
    public func count(_ entity: MirrorEntity) async throws -> Int? {
        guard let reference = Reference(rawValue: entity.name) else { return nil }
        return try await referenceRows(reference).count
    }

    /// Leads amoCRM moved to its trash since then (`with=only_deleted`; the other entities have no such list).
    public func deletedIDs(_ entity: MirrorEntity, since: Date) async throws -> [Int64]? {
        guard entity.name == Kind.lead.rawValue else { return nil }
        var ids: [Int64] = []
        let query = [("with", "only_deleted"), ("filter[updated_at][from]", String(Int64(since.timeIntervalSince1970.rounded(.down))))]
        try await client.pages(Kind.lead.path, embedded: Kind.lead.plural, query: query) { rows in
            ids += rows.compactMap { $0.objectValue?["id"]?.intValue.map(Int64.init) }
        }
        return ids
    }

    public func multiValues(_ record: CRMRecord, fields: [CRMField]) -> [CRMMultiValue] {
        var values: [CRMMultiValue] = []
        for field in fields where field.isMultiField {
            for item in record.values[field.code]?.arrayValue ?? [] {
                guard let object = item.objectValue, let value = object["value"]?.scalarText, !value.isEmpty else { continue }
                values.append(CRMMultiValue(field: field.code, valueType: object["enum_code"]?.stringValue, value: value))
            }
        }
        return values
    }

    // MARK: helpers

    static func kind(_ entity: MirrorEntity) throws -> Kind {
        guard let kind = Kind(rawValue: entity.name) else { throw SwitchboardError.invalid("entity", "amoCRM has no entity '\(entity.name)'") }
        return kind
    }

    /// A v4 record as the mirror stores it: links and custom fields flattened into plain keys, the
    /// tenant's stage and UTM tags added to leads.
    func record(_ row: JSONValue) throws -> CRMRecord {
        guard let object = row.objectValue, let id = object["id"]?.intValue, id > 0 else {
            throw AmoCRMError(status: 502, title: "Bad Gateway", detail: "amoCRM sent a record without an id", fields: [])
        }
        var values = AmoCRMFields.flatten(object)
        if object["status_id"] != nil {
            let custom = object["custom_fields_values"]?.arrayValue ?? []
            values["internal_status"] = mapping.stage(statusID: object["status_id"]?.intValue.map(Int64.init)).map(JSONValue.string) ?? .null
            let tags = mapping.utm(custom)
            for name in AmoCRMLeadMapping.utmNames { values[name] = tags[name].map(JSONValue.string) ?? .null }
        }
        let modified = object["updated_at"]?.intValue.map { Date(timeIntervalSince1970: Double($0)) }
        return CRMRecord(id: Int64(id), values: values, modifiedAt: modified)
    }

    /// Every status id of the account's pipelines (142 and 143 included).
    public func statusIDs() async throws -> [Int64] { try await pipelinesAndStatuses().statuses.map(\.id) }

    /// Pipelines and their statuses; 142 (won) and 143 (lost) are in every pipeline and kept once.
    func pipelinesAndStatuses() async throws -> (pipelines: [CRMRecord], statuses: [CRMRecord]) {
        let object = try await client.get("/api/v4/leads/pipelines") ?? [:]
        var pipelines: [CRMRecord] = []
        var statuses: [Int64: CRMRecord] = [:]
        for pipeline in AmoCRMClient.embedded(object, "pipelines") {
            guard var values = pipeline.objectValue, let id = values["id"]?.intValue else { continue }
            for status in values["_embedded"]?.objectValue?["statuses"]?.arrayValue ?? [] {
                guard var fields = status.objectValue, let statusID = fields["id"]?.intValue, statuses[Int64(statusID)] == nil else { continue }
                fields["_links"] = nil
                if statusID == 142 || statusID == 143 { fields["pipeline_id"] = .null }  // shared by every pipeline
                statuses[Int64(statusID)] = CRMRecord(id: Int64(statusID), values: fields, modifiedAt: nil)
            }
            values["_embedded"] = nil
            values["_links"] = nil
            pipelines.append(CRMRecord(id: Int64(id), values: values, modifiedAt: nil))
        }
        return (pipelines.sorted { $0.id < $1.id }, statuses.values.sorted { $0.id < $1.id })
    }

    func referenceRows(_ reference: Reference) async throws -> [CRMRecord] {
        switch reference {
        case .pipeline: return try await pipelinesAndStatuses().pipelines
        case .status: return try await pipelinesAndStatuses().statuses
        case .user:
            var rows: [CRMRecord] = []
            try await client.pages("/api/v4/users", embedded: "users", limit: 250) { page in
                for user in page {
                    guard var values = user.objectValue, let id = values["id"]?.intValue else { continue }
                    let rights = values["rights"]?.objectValue ?? [:]
                    values["is_active"] = rights["is_active"] ?? .null
                    values["is_admin"] = rights["is_admin"] ?? .null
                    values["rights"] = nil
                    values["_links"] = nil
                    rows.append(CRMRecord(id: Int64(id), values: values, modifiedAt: nil))
                }
            }
            return rows.sorted { $0.id < $1.id }
        }
    }
}

/// Where each entity's last page of the current run ended (the source lives for one job).
actor AmoCRMPagePositions {
    private var ends: [String: (after: Int64, position: Int)] = [:]

    func remember(_ key: String, after: Int64, position: Int) { ends[key] = (after, position) }

    func position(_ key: String, after: Int64) -> Int? {
        guard let end = ends[key], end.after == after else { return nil }
        return end.position
    }
}
