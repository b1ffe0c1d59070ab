import SwitchboardCore

/// People → Bitrix24 deals, for tenants that sell through a deal pipeline instead of leads: the person is
/// a contact (name, phone, e-mail) and a deal in pipeline `category` whose stage follows theirs.
///
/// Both records carry our correlation key (`ORIGINATOR_ID` + `ORIGIN_ID`), so a create whose answer was
/// lost is found again — the contact as well as the deal — instead of made twice.
public struct Bitrix24DealWriter: LeadWriter {
    public let client: Bitrix24Client
    /// The deal pipeline (`CATEGORY_ID`; 0 is the default one).
    public let category: Int
    public var kind: String { Self.kind }
    public var entity: String { "deal" }
    public static let kind = "bitrix24.deal"
    /// Keys of ours that belong to the contact, not the deal.
    static let contactKeys: Set<String> = ["name", "phone", "email"]

    public init(client: Bitrix24Client, category: Int) {
        self.client = client
        self.category = category
    }

    public func lead(correlation: String) async throws -> String? {
        try await Bitrix24Records.find(client, entity: "deal", correlation: correlation)
    }

    /// Only contacts count: an existing lead is not a deal, and the new deal links to the contact found.
    public func duplicate(phone: String?, email: String?) async throws -> LeadDuplicate? {
        try await Bitrix24Records.findByComm(client, phone: phone, email: email, entities: ["CONTACT"])
    }

    public func create(_ values: [String: JSONValue], correlation: String, contactID: String?, triedBefore: Bool) async throws -> String {
        var contact = contactID
        // A contact made by an attempt whose deal never came is taken, not made again.
        if contact == nil, triedBefore { contact = try await Bitrix24Records.find(client, entity: "contact", correlation: correlation) }
        if contact == nil {
            var fields = Bitrix24Records.fields(values.filter { Self.contactKeys.contains($0.key) })
            fields.merge(Bitrix24Records.correlationFields(correlation)) { $1 }
            contact = try await Bitrix24Records.add(client, entity: "contact", fields)
        }
        var fields = Self.dealFields(values)
        fields.merge(Bitrix24Records.correlationFields(correlation)) { $1 }
        fields["CATEGORY_ID"] = .string(String(category))
        if let contact { fields["CONTACT_ID"] = .string(contact) }
        return try await Bitrix24Records.add(client, entity: "deal", fields)
    }

    public func update(leadID: String, _ values: [String: JSONValue], correlation: String?) async throws {
        let person = values.filter { Self.contactKeys.contains($0.key) }
        var deal = Self.dealFields(values)
        if let correlation { deal.merge(Bitrix24Records.correlationFields(correlation)) { $1 } }
        if !person.isEmpty {
            let current = try await client.call("crm.deal.get", ["id": .string(leadID)]).result.objectValue ?? [:]
            if let contact = current["CONTACT_ID"]?.scalarText, contact != "0" {
                try await Bitrix24Records.update(client, entity: "contact", id: contact, Bitrix24Records.fields(person))
            } else {
                // The deal lost its contact in the portal: give it one again.
                var fields = Bitrix24Records.fields(person)
                if let correlation { fields.merge(Bitrix24Records.correlationFields(correlation)) { $1 } }
                deal["CONTACT_ID"] = .string(try await Bitrix24Records.add(client, entity: "contact", fields))
            }
        }
        guard !deal.isEmpty else { return }
        _ = try await client.call("crm.deal.update", ["id": .string(leadID), "fields": .object(deal)])
    }

    /// The pipeline's stages (`DEAL_STAGE` for pipeline 0, `DEAL_STAGE_<n>` for the others).
    public func statuses() async throws -> [String: String] {
        try await Bitrix24Records.statusList(client, entityID: category == 0 ? "DEAL_STAGE" : "DEAL_STAGE_\(category)")
    }

    /// Our neutral keys → deal fields: the person's stage is the deal's `STAGE_ID`; contact keys are left out.
    static func dealFields(_ values: [String: JSONValue]) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        for (key, value) in values where !contactKeys.contains(key) {
            switch key {
            case "title": fields["TITLE"] = value
            case "status": fields["STAGE_ID"] = value
            case "source": fields["SOURCE_ID"] = value
            default: fields[key] = value
            }
        }
        return fields
    }
}
