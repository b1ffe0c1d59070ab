import Foundation

/// A person kept by the company's own app (seed 003's "user" with a stage), mirrored into the CRM as a lead.
public struct Person: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    /// The app's own id for this person, unique per tenant.
    public var externalID: String?
    public var fullName: String
    /// E.164.
    public var phone: String?
    public var email: String?
    /// The app's stage (`NEW`, `IN_PROCESS`, `CONVERTED` by default), mapped to a CRM status per tenant.
    public var stage: String
    /// Extra CRM fields the app sets (`UF_CRM_…`, `SOURCE_ID`, `COMMENTS`…), passed through as given.
    public var fields: [String: JSONValue]
    /// Bumped by every change; the CRM is in step when `crm.syncedVersion == version`.
    public var version: Int
    public var crm: PersonCRMState
    public var deletedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenantID: String, externalID: String?, fullName: String, phone: String?, email: String?, stage: String,
        fields: [String: JSONValue], version: Int, crm: PersonCRMState, deletedAt: Date?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.externalID = externalID
        self.fullName = fullName
        self.phone = phone
        self.email = email
        self.stage = stage
        self.fields = fields
        self.version = version
        self.crm = crm
        self.deletedAt = deletedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Where a person stands in the CRM: the seed's reply (`bitrix_lead_id` or a `reason`) kept on the person.
public struct PersonCRMState: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable { case pending, synced, failed }

    public var kind: String?
    public var leadID: String?
    public var status: Status
    public var reason: String?
    /// CRM attempts for the current change (the seed's 3 attempts).
    public var attempts: Int
    public var lastAttemptAt: Date?
    /// The version the CRM last accepted.
    public var syncedVersion: Int
    /// What the CRM was last sent (field → value), so an update sends only what changed.
    public var pushed: [String: JSONValue]

    /// `lead` or `deal`: what `leadID` is the id of (nil until the CRM has the record).
    public var entity: String? { leadID == nil ? nil : (kind?.hasSuffix(".deal") == true ? "deal" : "lead") }

    public init(
        kind: String? = nil, leadID: String? = nil, status: Status = .pending, reason: String? = nil, attempts: Int = 0,
        lastAttemptAt: Date? = nil, syncedVersion: Int = 0, pushed: [String: JSONValue] = [:]
    ) {
        self.kind = kind
        self.leadID = leadID
        self.status = status
        self.reason = reason
        self.attempts = attempts
        self.lastAttemptAt = lastAttemptAt
        self.syncedVersion = syncedVersion
        self.pushed = pushed
    }
}

/// A tenant's rules for people: which stages exist and what they are in the CRM, duplicates, retries, replies.
public struct PeopleSettings: Sendable, Equatable {
    /// The CRM integration people go to (`bitrix24`).
    public var crm: String = "bitrix24"
    /// What a person is in the CRM: a `lead` (default), or a contact with a `deal` in pipeline `dealCategory`.
    public var entity: String = "lead"
    public var dealCategory = 0
    /// App stage → CRM status id (lead `STATUS_ID`, or the pipeline's deal `STAGE_ID` such as `C1:NEW`).
    /// Its keys are the stages the API accepts.
    public var stages: [String: String] = ["NEW": "NEW", "IN_PROCESS": "IN_PROCESS", "CONVERTED": "CONVERTED"]
    /// `link`: a lead with the same phone is taken over, a contact with it is linked to the new lead; `create`: always a new lead.
    public var dedup: String = "link"
    /// Seed 003 rejects a person without a phone ("Missing phone number"); some tenants take them anyway.
    public var allowWithoutPhone = false
    /// When the app deletes a person, move the lead to `closedStatus`.
    public var closeOnDelete = false
    public var closedStatus: String = "JUNK"
    /// Bitrix24 `SOURCE_ID` of new leads (nil: the portal's default).
    public var sourceID: String?
    /// CRM attempts per change and the waits between them (seed 003: 3 attempts, 2 s then 4 s).
    public var maxAttempts = 3
    public var backoffSeconds: [Int] = [2, 4]
    /// Where each success or failure is POSTed, signed with HMAC-SHA256 (`X-Switchboard-Signature`).
    public var callbackURL: String?

    public init() {}

    public static let dedupPolicies = ["link", "create"]
    public static let entities = ["lead", "deal"]
    public static let crms = ["bitrix24", "amocrm"]

    /// The stage a deal of the pipeline is closed with (Bitrix24's lost stage).
    public static func lostDealStage(category: Int) -> String { category == 0 ? "LOSE" : "C\(category):LOSE" }

    public func backoff(afterAttempt attempt: Int) -> Duration {
        let seconds = backoffSeconds.isEmpty ? 2 : backoffSeconds[min(max(attempt - 1, 0), backoffSeconds.count - 1)]
        return .seconds(seconds)
    }
}

extension PeopleSettings {
    /// Reads settings as the API takes them, on top of `base`; errors name the field.
    public init(json: [String: JSONValue], base: PeopleSettings = PeopleSettings()) throws(SwitchboardError) {
        self = base
        let known: Set<String> = [
            "crm", "entity", "deal_category", "stages", "dedup", "allow_without_phone", "close_on_delete", "closed_status", "source_id", "max_attempts",
            "backoff_seconds", "callback_url", "callback_secret",
        ]
        if let unknown = json.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalid(unknown, "unknown setting '\(unknown)'; known: \(known.sorted().joined(separator: ", "))")
        }
        if let value = json["crm"] {
            guard let text = value.stringValue, Self.crms.contains(text) else { throw .invalid("crm", "crm must be bitrix24 or amocrm") }
            // The other CRM's lost status means nothing here: each CRM's own is the default.
            if text != crm, json["closed_status"] == nil { closedStatus = text == "amocrm" ? "143" : "JUNK" }
            crm = text
        }
        if let value = json["entity"] {
            guard let text = value.stringValue, Self.entities.contains(text) else {
                throw .invalid("entity", "entity must be lead (people become leads) or deal (a contact and a deal in deal_category)")
            }
            entity = text
        }
        if let value = json["deal_category"] {
            guard let number = value.intValue, (0...1_000_000_000).contains(number) else {
                throw .invalid("deal_category", "deal_category must be a pipeline id: Bitrix24's deal category (0 is the default), amoCRM's pipeline (0 is the main one)")
            }
            dealCategory = number
        }
        if crm == "amocrm", entity == "deal" {
            throw .invalid("entity", "in amoCRM a person is a lead (a deal card with its contact); entity must be lead")
        }
        // Closing a lead as junk means nothing to a deal: its pipeline's lost stage is the default then.
        if json["closed_status"] == nil, crm == "bitrix24", entity == "deal", closedStatus == "JUNK" || closedStatus == Self.lostDealStage(category: base.dealCategory) {
            closedStatus = Self.lostDealStage(category: dealCategory)
        }
        if let value = json["stages"] {
            guard let object = value.objectValue, !object.isEmpty, object.count <= 50 else {
                throw .invalid("stages", "stages must map 1–50 app stages to CRM status ids, e.g. {\"NEW\":\"NEW\"}")
            }
            var stages: [String: String] = [:]
            for (stage, status) in object {
                guard Self.isStageName(stage) else { throw .invalid("stages", "'\(stage)' is not a stage name (A-Z, 0-9, _, up to 50)") }
                guard let text = status.stringValue, !text.isEmpty, text.count <= 50 else {
                    throw .invalid("stages.\(stage)", "the CRM status of \(stage) must be a status id such as \"IN_PROCESS\"")
                }
                stages[stage] = text
            }
            self.stages = stages
        }
        if let value = json["dedup"] {
            guard let text = value.stringValue, Self.dedupPolicies.contains(text) else {
                throw .invalid("dedup", "dedup must be one of \(Self.dedupPolicies.joined(separator: ", "))")
            }
            dedup = text
        }
        func flag(_ name: String) throws(SwitchboardError) -> Bool? {
            guard let value = json[name] else { return nil }
            guard let flag = value.boolValue else { throw .invalid(name, "\(name) must be true or false") }
            return flag
        }
        if let value = try flag("allow_without_phone") { allowWithoutPhone = value }
        if let value = try flag("close_on_delete") { closeOnDelete = value }
        if let value = json["closed_status"] {
            guard let text = value.stringValue, !text.isEmpty else { throw .invalid("closed_status", "closed_status must be a CRM status id") }
            closedStatus = text
        }
        if let value = json["source_id"] {
            if value == .null { sourceID = nil } else {
                guard let text = value.stringValue, !text.isEmpty else { throw .invalid("source_id", "source_id must be a CRM source id or null") }
                sourceID = text
            }
        }
        if let value = json["max_attempts"] {
            guard let count = value.intValue, (1...10).contains(count) else { throw .invalid("max_attempts", "max_attempts must be 1–10") }
            maxAttempts = count
        }
        if let value = json["backoff_seconds"] {
            guard let items = value.arrayValue, !items.isEmpty, items.count <= 10,
                case let seconds = items.compactMap(\.intValue), seconds.count == items.count, seconds.allSatisfy({ (0...3600).contains($0) })
            else { throw .invalid("backoff_seconds", "backoff_seconds must list 1–10 waits of 0–3600 seconds") }
            backoffSeconds = seconds
        }
        if let value = json["callback_url"] {
            if value == .null { callbackURL = nil } else {
                guard let text = value.stringValue, let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                    throw .invalid("callback_url", "callback_url must be an http(s) URL or null")
                }
                callbackURL = text
            }
        }
    }

    static func isStageName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 50 && name.utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "_") }
    }

    public var json: [String: JSONValue] {
        [
            "crm": .string(crm), "entity": .string(entity), "deal_category": .number(Double(dealCategory)), "stages": .object(stages.mapValues(JSONValue.string)), "dedup": .string(dedup),
            "allow_without_phone": .bool(allowWithoutPhone), "close_on_delete": .bool(closeOnDelete), "closed_status": .string(closedStatus),
            "source_id": sourceID.map(JSONValue.string) ?? .null, "max_attempts": .number(Double(maxAttempts)),
            "backoff_seconds": .array(backoffSeconds.map { .number(Double($0)) }), "callback_url": callbackURL.map(JSONValue.string) ?? .null,
        ]
    }
}
