import Foundation
import Jobs
import Logging
import SQLKit
import Storage
import SwitchboardCore

/// The call log in the tenant's mirror, so analytics can join calls to CRM records: table
/// `switchboard_calls` (one row per call, with the CRM binding Bitrix24 gave at register) and view
/// `switchboard_calls_crm`, which adds `contact_id`, `company_id`, `lead_id` (the binding, else the
/// record holding the caller's number in `bitrix24_multifields`) and `deal_id` (the binding, else the
/// contact's most recently changed live deal). A view, so calls join to contacts mirrored after them.
///
/// A `mirror.calls` job copies calls changed since the last copy (keyset on `updated_at`, id); each call
/// gets a stable 63-bit row id from its uuid (kept in `call_id`).
public struct CallLogMirror: Sendable {
    public static let kind = "mirror.calls"
    public static let entity = MirrorEntity(name: "call", table: "switchboard_calls", incremental: true)
    public static let view = "switchboard_calls_crm"
    static let cursor = "calls_mirrored_until"
    static let pageSize = 500

    public let database: Database
    /// Where each tenant's mirror lives (its own PostgreSQL server, when it has one).
    public let integrations: IntegrationRepository

    public init(database: Database, integrations: IntegrationRepository) {
        self.database = database
        self.integrations = integrations
    }

    /// The columns of `switchboard_calls`, with Russian labels for the data dictionary.
    public static let fields: [CRMField] = [
        CRMField(code: "CALL_ID", label: "Идентификатор звонка", crmType: "uuid", type: .text),
        CRMField(code: "EXTERNAL_ID", label: "Идентификатор в АТС", crmType: "string", type: .text),
        CRMField(
            code: "DIRECTION", label: "Направление", crmType: "enumeration", type: .text,
            enumValues: ["inbound": "Входящий", "outbound": "Исходящий", "internal": "Внутренний"]),
        CRMField(code: "CUSTOMER_PHONE", label: "Телефон клиента", crmType: "phone", type: .text, reference: "phone"),
        CRMField(code: "TRUNK", label: "Линия", crmType: "string", type: .text),
        CRMField(code: "EXTENSIONS", label: "Внутренние номера", crmType: "list", type: .json),
        CRMField(code: "ANSWERED_BY", label: "Ответил (внутренний номер)", crmType: "string", type: .text, reference: "extension"),
        CRMField(
            code: "OUTCOME", label: "Результат", crmType: "enumeration", type: .text,
            enumValues: ["answered": "Отвечен", "no_answer": "Без ответа", "busy": "Занято", "abandoned": "Сброшен",
                         "failed": "Ошибка", "unknown": "Неизвестно"]),
        CRMField(code: "STARTED_AT", label: "Начало", crmType: "datetime", type: .datetime),
        CRMField(code: "ANSWERED_AT", label: "Ответ", crmType: "datetime", type: .datetime),
        CRMField(code: "ENDED_AT", label: "Окончание", crmType: "datetime", type: .datetime),
        CRMField(code: "DURATION", label: "Длительность, с", crmType: "integer", type: .integer),
        CRMField(code: "BILLSEC", label: "Разговор, с", crmType: "integer", type: .integer),
        CRMField(code: "RECORDING_URL", label: "Запись", crmType: "url", type: .text),
        CRMField(code: "BITRIX24_CALL_ID", label: "CALL_ID в Битрикс24", crmType: "string", type: .text),
        CRMField(code: "CRM_ENTITY_TYPE", label: "Привязка: тип", crmType: "string", type: .text),
        CRMField(code: "CRM_ENTITY_ID", label: "Привязка: ID", crmType: "integer", type: .integer),
    ]

    /// The stable row id of a call (its uuid hashed to 63 bits).
    public static func rowID(_ callID: String) -> Int64 {
        let value = UInt64(Identifiers.sha256Hex(callID).prefix(16), radix: 16) ?? 0
        return Int64(bitPattern: value & UInt64(Int64.max))
    }

    /// One schedule per tenant whose Bitrix24 entities are mirrored: every five minutes.
    public static func schedules(_ enabled: [SyncState]) -> [Schedule] {
        Set(enabled.map(\.tenantID)).sorted().map { tenantID in
            Schedule(name: "mirror-calls:\(tenantID)", kind: kind, tenantID: tenantID, payload: [:], cadence: .every(.seconds(300)), maxAttempts: 3)
        }
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(Self.kind, policy: .standard, timeout: .seconds(1800)) { context in
            guard let tenantID = context.job.tenantID else { throw JobFailure.permanent("\(Self.kind) needs a tenant") }
            let copied = try await copy(tenantID: tenantID)
            return ["copied": .number(Double(copied))]
        }
    }

    /// Copies the tenant's calls changed since the last copy into its mirror; returns how many.
    @discardableResult
    public func copy(tenantID: String) async throws -> Int {
        let cursors = ConnectorCursorRepository(database)
        let calls = CallRepository(database)
        return try await MirrorDatabase.with(tenantID: tenantID, main: database, integrations: integrations) { mirror in
            // One cursor per mirror: a tenant that moves its mirror gets every call copied into the new one.
            let cursor = Self.cursor + (mirror.identity.map { "@" + $0 } ?? "")
            var after = try await cursors.get(tenantID: tenantID, integration: "switchboard", name: cursor).flatMap(Self.decodeCursor)
            let writer = MirrorWriter(mirror: mirror, crm: "switchboard")
            let (columns, changes) = try await writer.schema.ensure(Self.entity, fields: Self.fields)
            // PostgreSQL fixes a view's `c.*` when it is created: new call columns mean a new view.
            let viewMissing = try await !mirror.hasView(Self.view)
            if !changes.isEmpty || viewMissing { try await createView(mirror) }
            var copied = 0
            while true {
                let page = try await calls.changed(tenantID: tenantID, after: after, limit: Self.pageSize)
                guard let last = page.last else { break }
                let bindings = try await registrations(tenantID: tenantID, externalIDs: page.map(\.call.externalID))
                let records = page.map { Self.record($0, binding: bindings[$0.call.externalID]) }
                try await writer.upsert(Self.entity, columns: columns, records: records, multiValues: nil, syncedAt: .storageNow)
                copied += page.count
                after = (last.updatedAt, last.id)
                try await cursors.set(tenantID: tenantID, integration: "switchboard", name: cursor, value: Self.encodeCursor(last.updatedAt, last.id))
                if page.count < Self.pageSize { break }
            }
            return copied
        }
    }

    static func encodeCursor(_ date: Date, _ id: String) -> String { "\(Int64((date.timeIntervalSince1970 * 1000).rounded()))|\(id)" }

    static func decodeCursor(_ text: String) -> (updatedAt: Date, id: String)? {
        let parts = text.split(separator: "|", maxSplits: 1).map(String.init)
        guard parts.count == 2, let ms = Int64(parts[0]) else { return nil }
        return (Date(timeIntervalSince1970: Double(ms) / 1000).roundedToMilliseconds, parts[1])
    }

    /// What Bitrix24 answered at register, per call (from the effect ledger).
    private func registrations(tenantID: String, externalIDs: [String]) async throws -> [String: [String: JSONValue]] {
        let found = try await EffectLedger(database).find(tenantID: tenantID, keys: externalIDs.map { CallEffectKey.bitrix24($0, "register") })
        var registrations: [String: [String: JSONValue]] = [:]
        for external in externalIDs {
            registrations[external] = found[CallEffectKey.bitrix24(external, "register")]?.objectValue
        }
        return registrations
    }

    static func record(_ stored: CallRecord, binding: [String: JSONValue]?) -> CRMRecord {
        let call = stored.call
        func time(_ date: Date?) -> JSONValue { date.map { .string($0.ISO8601Format()) } ?? .null }
        let values: [String: JSONValue] = [
            "CALL_ID": .string(stored.id), "EXTERNAL_ID": .string(call.externalID), "DIRECTION": .string(call.direction.rawValue),
            "CUSTOMER_PHONE": call.customerPhone.map(JSONValue.string) ?? .null, "TRUNK": call.trunk.map(JSONValue.string) ?? .null,
            "EXTENSIONS": .array(call.extensions.map(JSONValue.string)), "ANSWERED_BY": call.answeredBy.map(JSONValue.string) ?? .null,
            "OUTCOME": .string(call.outcome.rawValue), "STARTED_AT": time(call.startedAt), "ANSWERED_AT": time(call.answeredAt),
            "ENDED_AT": time(call.endedAt), "DURATION": .number(Double(call.duration)), "BILLSEC": .number(Double(call.billsec)),
            "RECORDING_URL": call.recordingURL.map(JSONValue.string) ?? .null,
            "BITRIX24_CALL_ID": binding?["call_id"] ?? .null, "CRM_ENTITY_TYPE": binding?["crm_entity_type"] ?? .null,
            "CRM_ENTITY_ID": binding?["crm_entity_id"] ?? .null,
        ]
        return CRMRecord(id: rowID(stored.id), values: values, modifiedAt: stored.updatedAt)
    }

    /// (Re)creates the join view when the Bitrix24 tables it reads exist (when it is missing, or the calls table changed).
    private func createView(_ mirror: MirrorDatabase) async throws {
        let present = Set(try await MirrorCatalog(mirror).columns().map(\.table))
        guard present.contains("bitrix24_contacts"), present.contains("bitrix24_deals") else { return }
        let (calls, multi, deals, view) = (
            mirror.table(Self.entity.table), mirror.table("bitrix24_multifields"), mirror.table("bitrix24_deals"), mirror.table(Self.view)
        )
        func byPhone(_ entity: String, _ type: String) -> String {
            """
            COALESCE(CASE WHEN c.crm_entity_type = '\(type)' THEN c.crm_entity_id END,
                (SELECT MIN(m.entity_id) FROM \(multi) m WHERE m.entity = '\(entity)' AND m.field = 'PHONE' AND m.phone_e164 = c.customer_phone))
            """
        }
        let statement = """
            CREATE VIEW \(view) AS SELECT v.*,
                (SELECT d.id FROM \(deals) d WHERE d.deleted_at IS NULL AND d.contact_id = v.contact_id
                 ORDER BY d.modified_at DESC, d.id DESC LIMIT 1) AS deal_id
            FROM (SELECT c.*, \(byPhone("contact", "CONTACT")) AS contact_id, \(byPhone("company", "COMPANY")) AS company_id,
                \(byPhone("lead", "LEAD")) AS lead_id FROM \(calls) c WHERE c.deleted_at IS NULL) v
            """
        try await mirror.database.run { sql in
            try await sql.raw("DROP VIEW IF EXISTS \(unsafeRaw: view)").run()
            try await sql.raw(SQLQueryString(statement)).run()
        }
    }
}
