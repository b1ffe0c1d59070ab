import SwitchboardCore

/// People → Bitrix24 leads: `crm.lead.add/update/list/get`, `crm.duplicate.findbycomm`, `crm.status.list`.
/// Our id rides in the lead's `ORIGINATOR_ID` (`switchboard`) + `ORIGIN_ID` ("external source" fields
/// every lead has), so a create whose answer was lost is found again instead of made twice.
public struct Bitrix24LeadWriter: LeadWriter {
    public let client: Bitrix24Client
    public var kind: String { "bitrix24" }
    public var entity: String { "lead" }

    public init(client: Bitrix24Client) {
        self.client = client
    }

    public func lead(correlation: String) async throws -> String? {
        try await Bitrix24Records.find(client, entity: "lead", correlation: correlation)
    }

    public func duplicate(phone: String?, email: String?) async throws -> LeadDuplicate? {
        try await Bitrix24Records.findByComm(client, phone: phone, email: email, entities: ["LEAD", "CONTACT"])
    }

    public func create(_ values: [String: JSONValue], correlation: String, contactID: String?, triedBefore: Bool) async throws -> String {
        var fields = Bitrix24Records.fields(values)
        fields.merge(Bitrix24Records.correlationFields(correlation)) { $1 }
        if let contactID { fields["CONTACT_ID"] = .string(contactID) }
        return try await Bitrix24Records.add(client, entity: "lead", fields, params: ["REGISTER_SONET_EVENT": "Y"])
    }

    public func update(leadID: String, _ values: [String: JSONValue], correlation: String?) async throws {
        var fields = Bitrix24Records.fields(values)
        if let correlation { fields.merge(Bitrix24Records.correlationFields(correlation)) { $1 } }
        try await Bitrix24Records.update(client, entity: "lead", id: leadID, fields)
    }

    public func statuses() async throws -> [String: String] {
        try await Bitrix24Records.statusList(client, entityID: "STATUS")
    }
}
