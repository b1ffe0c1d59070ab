import Foundation
import Logging
import Mirror
import SQLKit
import Storage
import SwitchboardCore
import Synchronization
import Testing

/// A CRM held in memory that speaks the `MirrorSource` protocol, with faults on demand: the engine's
/// rules (resume, drift, deletions, count checks) are checked here without HTTP; the Bitrix24 path end
/// to end is in `Bitrix24MirrorTests`.
final class ScriptedSource: MirrorSource, Sendable {
    struct State {
        var fields: [CRMField]
        var records: [Int64: CRMRecord] = [:]
        var pageSize = 7
        /// Pages served so far; `failAtPage` throws once when this many pages were served.
        var pagesServed = 0
        var failAtPage: Int?
        /// A field appears in records (not in metadata) after this many pages.
        var driftAfterPage: (Int, CRMField)?
        var countOffset = 0
    }
    let state: Mutex<State>
    let crm = "testcrm"
    let entities = [MirrorEntity(name: "deal", table: "testcrm_deals", incremental: true)]

    init(fields: [CRMField], count: Int) {
        var state = State(fields: fields)
        for id in 1...Int64(count) { state.records[id] = Self.record(id, modified: Date(timeIntervalSince1970: 1_700_000_000 + Double(id))) }
        self.state = Mutex(state)
    }

    static let baseFields = [
        CRMField(code: "ID", label: "ID", crmType: "integer", type: .integer),
        CRMField(code: "TITLE", label: "Название", crmType: "string", type: .text),
        CRMField(code: "AMOUNT", label: "Сумма", crmType: "double", type: .decimal),
        CRMField(code: "CLOSED", label: "Закрыта", crmType: "char", type: .boolean),
        CRMField(code: "STAGE_ID", label: "Стадия", crmType: "crm_status", type: .text, enumValues: ["NEW": "Новая", "WON": "Успешна"]),
        CRMField(code: "CLOSEDATE", label: "Дата закрытия", crmType: "date", type: .date),
        CRMField(code: "DATE_MODIFY", label: "Изменена", crmType: "datetime", type: .datetime),
        CRMField(code: "PHONE", label: "Телефон", crmType: "crm_multifield", type: .text, isMultiField: true),
    ]

    static func record(_ id: Int64, modified: Date, extra: [String: JSONValue] = [:]) -> CRMRecord {
        var values: [String: JSONValue] = [
            "ID": .string(String(id)), "TITLE": .string("Сделка #\(id)"), "AMOUNT": .string("\(id * 100).50"),
            "CLOSED": .string(id % 2 == 0 ? "Y" : "N"), "STAGE_ID": .string(id % 3 == 0 ? "WON" : "NEW"),
            "CLOSEDATE": .string("2024-09-02T00:00:00+03:00"), "DATE_MODIFY": .string(MirrorValues.postgresTimestamp(modified)),
            "PHONE": [["VALUE": .string("8 (916) 123-45-\(String(format: "%02d", id % 100))"), "VALUE_TYPE": "WORK"]],
        ]
        values.merge(extra) { _, new in new }
        return CRMRecord(id: id, values: values, modifiedAt: modified)
    }

    func fields(_ entity: MirrorEntity) async throws -> [CRMField] { state.withLock { $0.fields } }

    func page(_ entity: MirrorEntity, afterID: Int64?, modifiedSince: Date?, previousCount: Int) async throws -> CRMPage {
        try state.withLock { state in
            if let fail = state.failAtPage, state.pagesServed == fail {
                state.failAtPage = nil
                throw SwitchboardError(.unavailable, code: "scripted", message: "connection reset (scripted)")
            }
            state.pagesServed += 1
            let ids = state.records.keys.filter { $0 > (afterID ?? 0) }.sorted()
            var rows = ids.compactMap { state.records[$0] }.filter { record in modifiedSince.map { (record.modifiedAt ?? .distantPast) >= $0 } ?? true }
            rows = Array(rows.prefix(state.pageSize))
            if let (after, field) = state.driftAfterPage, state.pagesServed > after {
                if !state.fields.contains(where: { $0.code == field.code }) { state.fields.append(field) }
                rows = rows.map { var row = $0; row.values[field.code] = .string("UTM-\(row.id)"); return row }
            }
            return CRMPage(records: rows, isLast: rows.count < state.pageSize)
        }
    }

    func records(_ entity: MirrorEntity, ids: [Int64]) async throws -> [CRMRecord] {
        state.withLock { state in ids.compactMap { state.records[$0] } }
    }

    func count(_ entity: MirrorEntity) async throws -> Int? { state.withLock { $0.records.count + $0.countOffset } }

    func multiValues(_ record: CRMRecord, fields: [CRMField]) -> [CRMMultiValue] {
        (record.values["PHONE"]?.arrayValue ?? []).compactMap { item in
            item.objectValue?["VALUE"]?.stringValue.map { CRMMultiValue(field: "PHONE", valueType: item.objectValue?["VALUE_TYPE"]?.stringValue, value: $0) }
        }
    }
}

@Suite("Mirror engine", .serialized)
struct MirrorEngineTests {
    static func withMirror(
        _ backend: TestBackend, source: ScriptedSource, _ body: @Sendable (MirrorSync, Database) async throws -> Void
    ) async throws {
        try await TestSupport.withDatabase(backend) { database in
            let tenant = try await TenantProvisioning.create(database: database, secrets: TestSupport.secrets, slug: "m\(UInt32.random(in: 0...UInt32.max))", name: "Mirror")
            try await MirrorDatabase.with(tenantID: tenant.tenant.id, main: database, integrations: IntegrationRepository(database, secrets: TestSupport.secrets)) { mirror in
                let sync = MirrorSync(
                    source: source, mirror: mirror, states: SyncStateRepository(database), tenantID: tenant.tenant.id, logger: TestSupport.logger)
                try await body(sync, database)
            }
        }
    }

    static func rows(_ sync: MirrorSync, _ sql: String) async throws -> [any SQLRow] {
        let text = sql.replacingOccurrences(of: "$T", with: sync.mirror.table("testcrm_deals")).replacingOccurrences(of: "$M", with: sync.mirror.table("testcrm_multifields"))
        return try await sync.mirror.database.run { try await $0.raw(SQLQueryString(text)).all() }
    }

    @Test("a full sync stores typed columns, labels, multi-fields with E.164 phones and a catalog", arguments: TestBackend.all)
    func fullSync(backend: TestBackend) async throws {
        let source = ScriptedSource(fields: ScriptedSource.baseFields, count: 30)
        try await Self.withMirror(backend, source: source) { sync, _ in
            let entity = sync.source.entities[0]
            let outcome = try await sync.run(entity, mode: .full)
            #expect(outcome.rowsRead == 30 && outcome.rowsInMirror == 30 && outcome.mode == .full)
            let row = try #require(try await Self.rows(sync, "SELECT * FROM $T WHERE id = 3").first)
            #expect(try row.decode(column: "title", as: String.self) == "Сделка #3")
            #expect(try row.decode(column: "amount", as: Double.self) == 300.5)
            #expect(try row.decode(column: "closed", as: Bool.self) == false)
            #expect(try row.decode(column: "stage_id", as: String.self) == "WON")
            #expect(try row.decode(column: "stage_id_label", as: String.self) == "Успешна")
            let sums = try #require(try await Self.rows(sync, "SELECT SUM(amount) AS s, COUNT(*) AS n FROM $T WHERE closed = \(backend == .postgres ? "true" : "1")").first)
            #expect(try sums.decode(column: "n", as: Int.self) == 15)
            let phones = try await Self.rows(sync, "SELECT phone_e164 FROM $M WHERE entity = 'deal' AND entity_id = 7")
            #expect(try phones.map { try $0.decode(column: "phone_e164", as: String.self) } == ["+79161234507"])
            let catalog = try await MirrorCatalog(sync.mirror).columns(table: entity.table)
            let stage = try #require(catalog.first { $0.column == "stage_id" })
            #expect(stage.label == "Стадия" && stage.enumValues["WON"] == "Успешна" && stage.crmField == "STAGE_ID")
            #expect(catalog.contains { $0.column == "phone" && $0.role == .multi })
            #expect(catalog.contains { $0.column == "synced_at" && $0.role == .system })
            let state = try await sync.states.load(tenantID: sync.tenantID, integration: "testcrm", entity: "deal")
            #expect(state.phase == .succeeded && state.cursorID == nil && state.rowsInMirror == 30 && state.lastFullAt != nil)
            let runs = try await sync.states.runs(tenantID: sync.tenantID)
            #expect(runs.count == 1 && runs[0].status == "succeeded" && runs[0].rowsRead == 30)
        }
    }

    @Test("a sync that dies mid-way resumes after its last stored page: no gaps, no duplicates", arguments: TestBackend.all)
    func resumeAfterCrash(backend: TestBackend) async throws {
        let source = ScriptedSource(fields: ScriptedSource.baseFields, count: 50)
        source.state.withLock { $0.failAtPage = 3 }
        try await Self.withMirror(backend, source: source) { sync, _ in
            let entity = sync.source.entities[0]
            await #expect(throws: SwitchboardError.self) { try await sync.run(entity, mode: .full) }
            let failed = try await sync.states.load(tenantID: sync.tenantID, integration: "testcrm", entity: "deal")
            #expect(failed.phase == .failed && failed.cursorID == 21 && failed.rowsDone == 21 && failed.lastError?.contains("scripted") == true)
            let served = source.state.withLock { $0.pagesServed }
            let outcome = try await sync.run(entity, mode: .full)
            #expect(outcome.resumed && outcome.rowsRead == 29)
            // Only the pages after the cursor were read again (4 more: 28, 35, 42, 49, 50 → 5 pages incl. the short one).
            #expect(source.state.withLock { $0.pagesServed } - served == 5)
            let count = try #require(try await Self.rows(sync, "SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d, MIN(id) AS lo, MAX(id) AS hi FROM $T").first)
            #expect(try count.decode(column: "n", as: Int.self) == 50 && count.decode(column: "d", as: Int.self) == 50)
            #expect(try count.decode(column: "lo", as: Int.self) == 1 && count.decode(column: "hi", as: Int.self) == 50)
            let runs = try await sync.states.runs(tenantID: sync.tenantID)
            #expect(runs.map(\.status) == ["succeeded", "failed"])
        }
    }

    @Test("records gone from the CRM are marked deleted by the next full sync, and come back when they reappear", arguments: TestBackend.all)
    func deletions(backend: TestBackend) async throws {
        let source = ScriptedSource(fields: ScriptedSource.baseFields, count: 20)
        try await Self.withMirror(backend, source: source) { sync, _ in
            let entity = sync.source.entities[0]
            _ = try await sync.run(entity, mode: .full)
            let removed = source.state.withLock { $0.records.removeValue(forKey: 5)! }
            source.state.withLock { _ = $0.records.removeValue(forKey: 20) }
            let second = try await sync.run(entity, mode: .full)
            #expect(second.rowsDeleted == 2 && second.rowsInMirror == 18)
            let deleted = try await Self.rows(sync, "SELECT id FROM $T WHERE deleted_at IS NOT NULL ORDER BY id")
            #expect(try deleted.map { try $0.decode(column: "id", as: Int.self) } == [5, 20])
            // An event for a deleted record marks it; a record back in the CRM is live again.
            source.state.withLock { $0.records[5] = removed }
            let applied = try await sync.apply(entity, ids: [5, 20])
            #expect(applied.stored == 1 && applied.deleted == 0)
            let live = try await Self.rows(sync, "SELECT id FROM $T WHERE deleted_at IS NULL")
            #expect(live.count == 19)
        }
    }

    @Test("a re-read older than the stored row (two events applied out of order) keeps the newer values, and still counts as seen", arguments: TestBackend.all)
    func staleReadKeepsNewer(backend: TestBackend) async throws {
        let source = ScriptedSource(fields: ScriptedSource.baseFields, count: 10)
        try await Self.withMirror(backend, source: source) { sync, _ in
            let entity = sync.source.entities[0]
            _ = try await sync.run(entity, mode: .full)
            let newer = Date(timeIntervalSince1970: 1_800_000_000)
            source.state.withLock { $0.records[3] = ScriptedSource.record(3, modified: newer, extra: ["TITLE": "Новее"]) }
            _ = try await sync.apply(entity, ids: [3])
            // A slower job read the record before that change and finishes now.
            source.state.withLock { $0.records[3] = ScriptedSource.record(3, modified: newer.addingTimeInterval(-60), extra: ["TITLE": "Старее"]) }
            _ = try await sync.apply(entity, ids: [3])
            let row = try #require(try await Self.rows(sync, "SELECT title FROM $T WHERE id = 3").first)
            #expect(try row.decode(column: "title", as: String.self) == "Новее")
            // A full run that meets the older copy does not mark the row deleted either.
            let full = try await sync.run(entity, mode: .full)
            #expect(full.rowsDeleted == 0 && full.rowsInMirror == 10)
            source.state.withLock { $0.records[3] = ScriptedSource.record(3, modified: newer.addingTimeInterval(60), extra: ["TITLE": "Ещё новее"]) }
            _ = try await sync.apply(entity, ids: [3])
            #expect(try await Self.rows(sync, "SELECT title FROM $T WHERE id = 3").first?.decode(column: "title", as: String.self) == "Ещё новее")
        }
    }

    @Test("a field that appears mid-run becomes a column at once; a changed type widens to text without loss", arguments: TestBackend.all)
    func drift(backend: TestBackend) async throws {
        let source = ScriptedSource(fields: ScriptedSource.baseFields, count: 30)
        let utm = CRMField(code: "UTM_SOURCE", label: "UTM source", crmType: "string", type: .text)
        source.state.withLock { $0.driftAfterPage = (2, utm) }
        try await Self.withMirror(backend, source: source) { sync, _ in
            let entity = sync.source.entities[0]
            let outcome = try await sync.run(entity, mode: .full)
            #expect(outcome.columnsAdded >= 1)
            let tagged = try await Self.rows(sync, "SELECT id, utm_source FROM $T WHERE utm_source IS NOT NULL ORDER BY id")
            #expect(try tagged.first?.decode(column: "id", as: Int.self) == 15)
            #expect(tagged.count == 16)
            // AMOUNT becomes a string field in the CRM: existing numbers stay readable as text.
            source.state.withLock { state in
                state.driftAfterPage = nil
                state.fields = state.fields.map { $0.code == "AMOUNT" ? CRMField(code: "AMOUNT", label: "Сумма", crmType: "string", type: .text) : $0 }
                state.records[1]?.values["AMOUNT"] = "около ста"
            }
            _ = try await sync.run(entity, mode: .full)
            let amounts = try await Self.rows(sync, "SELECT id, amount FROM $T WHERE id IN (1, 2) ORDER BY id")
            #expect(try amounts.map { try $0.decode(column: "amount", as: String.self) } == ["около ста", backend == .postgres ? "200.50" : "200.5"])
            let column = try #require(try await MirrorCatalog(sync.mirror).columns(table: entity.table).first { $0.column == "amount" })
            #expect(column.type == .text)
            // A field the CRM dropped keeps its column and values, marked inactive.
            source.state.withLock { $0.fields.removeAll { $0.code == "CLOSEDATE" } }
            _ = try await sync.run(entity, mode: .full)
            let closeDate = try #require(try await MirrorCatalog(sync.mirror).columns(table: entity.table).first { $0.column == "closedate" })
            #expect(!closeDate.active)
            #expect(try await Self.rows(sync, "SELECT closedate FROM $T WHERE closedate IS NOT NULL").count == 30)
        }
    }

    @Test("incremental runs read only changes since the last run (with overlap); none yet means a full run", arguments: TestBackend.all)
    func incremental(backend: TestBackend) async throws {
        let source = ScriptedSource(fields: ScriptedSource.baseFields, count: 25)
        try await Self.withMirror(backend, source: source) { sync, _ in
            let entity = sync.source.entities[0]
            let first = try await sync.run(entity, mode: .incremental)
            #expect(first.mode == .full)
            source.state.withLock { state in
                state.records[4] = ScriptedSource.record(4, modified: Date(), extra: ["TITLE": "Изменена"])
                state.records[26] = ScriptedSource.record(26, modified: Date())
            }
            let second = try await sync.run(entity, mode: .incremental)
            #expect(second.mode == .incremental && second.rowsRead == 2 && second.rowsInMirror == 26)
            #expect(try await Self.rows(sync, "SELECT title FROM $T WHERE id = 4").first?.decode(column: "title", as: String.self) == "Изменена")
        }
    }

    @Test("a full run whose result disagrees with the CRM's count fails instead of passing silently", arguments: TestBackend.all)
    func countMismatch(backend: TestBackend) async throws {
        let source = ScriptedSource(fields: ScriptedSource.baseFields, count: 10)
        source.state.withLock { $0.countOffset = 3 }
        try await Self.withMirror(backend, source: source) { sync, _ in
            let entity = sync.source.entities[0]
            await #expect(throws: SwitchboardError.self) { try await sync.run(entity, mode: .full) }
            let state = try await sync.states.load(tenantID: sync.tenantID, integration: "testcrm", entity: "deal")
            #expect(state.phase == .failed && state.lastError?.contains("reports 13") == true)
        }
    }

    @Test("text with tabs, line breaks, backslashes, quotes, \\N, Cyrillic and emoji is stored byte for byte, new and updated (COPY on PostgreSQL)", arguments: TestBackend.all)
    func awkwardText(backend: TestBackend) async throws {
        let source = ScriptedSource(fields: ScriptedSource.baseFields, count: 1)
        try await Self.withMirror(backend, source: source) { sync, _ in
            let entity = sync.source.entities[0]
            let titles = ["a\tb\nc\r\nd", "back\\slash \\N \\t", "quote ' \" ;--", "Сделка 🚀 №5", "", " trailing \\"]
            let writer = MirrorWriter(mirror: sync.mirror, crm: "testcrm")
            let fields = ScriptedSource.baseFields
            let (columns, _) = try await writer.schema.ensure(entity, fields: fields)
            for round in 0..<2 {
                let records = titles.enumerated().map { index, title in
                    ScriptedSource.record(Int64(index + 1), modified: Date(timeIntervalSince1970: 1_700_000_000), extra: ["TITLE": .string(title + String(repeating: "!", count: round))])
                }
                let multi = Dictionary(uniqueKeysWithValues: records.map { ($0.id, sync.source.multiValues($0, fields: fields)) })
                try await writer.upsert(entity, columns: columns, records: records, multiValues: multi, syncedAt: .storageNow)
                let rows = try await Self.rows(sync, "SELECT id, title, \(backend == .postgres ? "raw::text" : "raw") AS raw FROM $T ORDER BY id")
                #expect(rows.count == titles.count)
                for (row, title) in zip(rows, titles) {
                    let expected = title + String(repeating: "!", count: round)
                    // An empty CRM string is NULL in the typed column (Bitrix24 sends "" for "not set"); raw keeps it.
                    #expect(try row.decode(column: "title", as: String?.self) == (expected.isEmpty ? nil : expected))
                    let raw = JSONValue(jsonText: try row.decode(column: "raw", as: String.self))
                    #expect(raw?.objectValue?["TITLE"]?.stringValue == expected)
                }
                let phones = try await Self.rows(sync, "SELECT COUNT(*) AS n FROM $M WHERE entity = 'deal'")
                #expect(try phones.first?.decode(column: "n", as: Int.self) == titles.count)
            }
            // A NULL stays NULL (COPY's \N), an absent amount included.
            let nulls = try await Self.rows(sync, "SELECT COUNT(*) AS n FROM $T WHERE deleted_at IS NULL AND closedate IS NOT NULL")
            #expect(try nulls.first?.decode(column: "n", as: Int.self) == titles.count)
        }
    }
}

@Suite("Mirror values")
struct MirrorValuesTests {
    @Test func canonicalValues() {
        #expect(MirrorValues.canonical("37", as: .integer, backend: .sqlite) == "37")
        #expect(MirrorValues.canonical("abc", as: .integer, backend: .sqlite) == nil)
        #expect(MirrorValues.canonical("100.50|RUB", as: .decimal, backend: .postgres) == "100.50")
        #expect(MirrorValues.canonical("1e5", as: .decimal, backend: .postgres) == nil)
        #expect(MirrorValues.canonical("Y", as: .boolean, backend: .postgres) == "true")
        #expect(MirrorValues.canonical("N", as: .boolean, backend: .sqlite) == "0")
        #expect(MirrorValues.canonical("", as: .text, backend: .sqlite) == nil)
        #expect(MirrorValues.canonical("02.09.2024", as: .date, backend: .sqlite) == "2024-09-02")
        #expect(MirrorValues.canonical("2024-09-02T18:37:18+02:00", as: .datetime, backend: .sqlite) == "2024-09-02 16:37:18")
        #expect(MirrorValues.canonical("2024-13-02T18:37:18+02:00", as: .datetime, backend: .sqlite) == nil)
        #expect(MirrorValues.canonical(["1", "2"], as: .json, backend: .sqlite) == #"["1","2"]"#)
        #expect(MirrorValues.label(["1", "3"], enumValues: ["1": "A", "3": "C"]) == "A, C")
    }

    @Test("timestamps parse and format exactly like Foundation over random instants")
    func timestampsMatchFoundation() {
        var random = SplitMix64(seed: 42)
        let formatter = ISO8601DateFormatter()
        for _ in 0..<2000 {
            let seconds = Double(Int64.random(in: -2_000_000_000...4_000_000_000, using: &random))
            let date = Date(timeIntervalSince1970: seconds)
            let offset = Int.random(in: -12...14, using: &random) * 3600
            formatter.timeZone = TimeZone(secondsFromGMT: offset)
            let text = formatter.string(from: date)
            #expect(MirrorValues.parseTimestamp(text) == date, "\(text)")
            formatter.timeZone = TimeZone(secondsFromGMT: 0)
            let utc = formatter.string(from: date).replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "")
            #expect(MirrorValues.sqliteTimestamp(date, milliseconds: false) == utc)
        }
    }
}
