import Foundation

/// How a CRM field is stored in the mirror, whatever the CRM calls its type.
public enum MirrorFieldType: String, Sendable, Codable, CaseIterable {
    case text, integer, decimal, boolean, date, datetime
    /// Several values (a multiple user field, a list of ids): stored as a JSON array.
    case json
}

/// One field of a CRM entity as the mirror sees it: where it comes from, what it means, how to store it.
public struct CRMField: Sendable, Equatable, Codable {
    /// The CRM's own name (`STAGE_ID`, `UF_CRM_1687188367`).
    public var code: String
    /// A human label (Bitrix24's `listLabel`/`title`, in the portal's language).
    public var label: String
    /// The CRM's type name (`crm_status`, `enumeration`, `crm_multifield`…), kept for the catalog.
    public var crmType: String
    public var type: MirrorFieldType
    /// Enumerated values: id → label (`enumeration` items, or the stages of a `crm_status` field, when known).
    public var enumValues: [String: String]
    /// A multi-field such as phones or e-mails: its values go to the entity's child table, not a column.
    public var isMultiField: Bool
    /// What the value points at (`user`, `contact`, `company`, `stage:DEAL_STAGE`, `category`…), for joins.
    public var reference: String?

    public init(
        code: String, label: String, crmType: String, type: MirrorFieldType, enumValues: [String: String] = [:],
        isMultiField: Bool = false, reference: String? = nil
    ) {
        self.code = code
        self.label = label
        self.crmType = crmType
        self.type = type
        self.enumValues = enumValues
        self.isMultiField = isMultiField
        self.reference = reference
    }
}

/// One value of a multi-field (a phone, an e-mail…).
public struct CRMMultiValue: Sendable, Equatable {
    public var field: String
    public var valueType: String?
    public var value: String

    public init(field: String, valueType: String?, value: String) {
        self.field = field
        self.valueType = valueType
        self.value = value
    }
}

/// One CRM record as read: its id, its values by field code (as the CRM sent them), when it last changed.
public struct CRMRecord: Sendable, Equatable {
    public var id: Int64
    public var values: [String: JSONValue]
    public var modifiedAt: Date?

    public init(id: Int64, values: [String: JSONValue], modifiedAt: Date?) {
        self.id = id
        self.values = values
        self.modifiedAt = modifiedAt
    }
}

/// A mirrored entity: the table it becomes and whether it can be read incrementally.
public struct MirrorEntity: Sendable, Equatable {
    /// The API name (`deal`, `contact`…; `stage`, `user` for reference data).
    public var name: String
    /// The mirror table (`bitrix24_deals`).
    public var table: String
    /// False for small reference lists, which are always read whole.
    public var incremental: Bool

    public init(name: String, table: String, incremental: Bool) {
        self.name = name
        self.table = table
        self.incremental = incremental
    }
}

/// Records read in one step of a sync, and whether there are more.
public struct CRMPage: Sendable {
    public var records: [CRMRecord]
    /// True when no record after the last one here is left to read.
    public var isLast: Bool

    public init(records: [CRMRecord], isLast: Bool) {
        self.records = records
        self.isLast = isLast
    }
}

/// What the mirror engine needs from a CRM connector. Records come in ascending id order, as a keyset:
/// each call reads what follows `afterID`, so a sync can stop anywhere and resume from its last id.
public protocol MirrorSource: Sendable {
    /// The CRM's name, the prefix of its mirror tables (`bitrix24`).
    var crm: String { get }
    var entities: [MirrorEntity] { get }

    /// The entity's fields as the CRM describes them now.
    func fields(_ entity: MirrorEntity) async throws -> [CRMField]
    /// The next records with id greater than `afterID` (from the start when nil), changed at or after
    /// `modifiedSince` when given. `previousCount` is how many the previous call of this run returned
    /// (0 on the first), so a source can read more per request once it knows there is a lot to read.
    func page(_ entity: MirrorEntity, afterID: Int64?, modifiedSince: Date?, previousCount: Int) async throws -> CRMPage
    /// These records as they are now; ids the CRM no longer has are missing from the answer.
    func records(_ entity: MirrorEntity, ids: [Int64]) async throws -> [CRMRecord]
    /// How many records the CRM holds (to check a full sync against), or nil when the CRM cannot tell
    /// without reading them all (amoCRM) — the source must then make its full read gap-free by itself.
    func count(_ entity: MirrorEntity) async throws -> Int?
    /// The values of the record's multi-fields (phones, e-mails…).
    func multiValues(_ record: CRMRecord, fields: [CRMField]) -> [CRMMultiValue]
    /// Ids of records deleted at or after `since`, for an incremental run to mark; nil when the CRM cannot
    /// list deletions (they then wait for an event or the next full run).
    func deletedIDs(_ entity: MirrorEntity, since: Date) async throws -> [Int64]?
}

extension MirrorSource {
    public func deletedIDs(_ entity: MirrorEntity, since: Date) async throws -> [Int64]? { nil }
}
