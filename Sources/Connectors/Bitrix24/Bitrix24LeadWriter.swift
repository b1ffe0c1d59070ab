import SwitchboardCore

/// People → Bitrix24 leads: `crm.lead.add/update/list/get`, `crm.duplicate.findbycomm`, `crm.status.list`.
/// Our id rides in the lead's `ORIGINATOR_ID` (`switchboard`) + `ORIGIN_ID` ("external source" fields
/// every lead has), so a create whose answer was lost is found again instead of made twice.
public struct Bitrix24LeadWriter: LeadWriter {
    public let client: Bitrix24Client
    public var kind: String { "bitrix24" }
    static let originator = "switchboard"

    public init(client: Bitrix24Client) {
        self.client = client
    }

    public func lead(correlation: String) async throws -> String? {
        let answer = try await client.call(
            "crm.lead.list", ["filter": .object(Self.correlationFields(correlation)), "select": ["ID"], "order": ["ID": "ASC"]])
        return answer.result.arrayValue?.first?.objectValue?["ID"].flatMap(Self.text)
    }

    public func duplicate(phone: String?, email: String?) async throws -> LeadDuplicate? {
        try await Self.findByComm(client, phone: phone, email: email, entities: ["LEAD", "CONTACT"])
    }

    public func create(_ values: [String: JSONValue], correlation: String, contactID: String?) async throws -> String {
        var fields = Self.fields(values)
        fields.merge(Self.correlationFields(correlation)) { $1 }
        if let contactID { fields["CONTACT_ID"] = .string(contactID) }
        return try await Self.id(of: client.call("crm.lead.add", ["fields": .object(fields), "params": ["REGISTER_SONET_EVENT": "Y"]]), method: "crm.lead.add")
    }

    public func update(leadID: String, _ values: [String: JSONValue], correlation: String?) async throws {
        var fields = Self.fields(values)
        if let correlation { fields.merge(Self.correlationFields(correlation)) { $1 } }
        try await Self.write(client, entity: "lead", id: leadID, fields)
    }

    public func statuses() async throws -> [String: String] {
        try await Self.statusList(client, entityID: "STATUS")
    }

    // MARK: shared with the deal writer

    /// `ORIGINATOR_ID` + `ORIGIN_ID`: our mark on a record, to find it again.
    static func correlationFields(_ correlation: String) -> [String: JSONValue] {
        ["ORIGINATOR_ID": .string(originator), "ORIGIN_ID": .string(correlation)]
    }

    /// The first record of `entities` (in that order) that has the phone, else the e-mail.
    static func findByComm(_ client: Bitrix24Client, phone: String?, email: String?, entities: [String]) async throws -> LeadDuplicate? {
        for (type, value) in [("PHONE", phone), ("EMAIL", email)] {
            guard let value, !value.isEmpty else { continue }
            var params: [String: JSONValue] = ["type": .string(type), "values": [.string(value)]]
            if entities.count == 1 { params["entity_type"] = .string(entities[0]) }
            let answer = try await client.call("crm.duplicate.findbycomm", params)
            // `{"LEAD":[…],"CONTACT":[…]}`, or `[]` when nothing matches.
            guard let found = answer.result.objectValue else { continue }
            for entity in entities {
                if let id = found[entity]?.arrayValue?.compactMap(Self.text).first { return LeadDuplicate(entity: entity, id: id) }
            }
        }
        return nil
    }

    /// `crm.<entity>.update` of `fields`. A multi-field value without its ID would be appended: the
    /// record's first phone / e-mail is overwritten instead.
    static func write(_ client: Bitrix24Client, entity: String, id: String, _ fields: [String: JSONValue]) async throws {
        var fields = fields
        if fields["PHONE"] != nil || fields["EMAIL"] != nil {
            let current = try await client.call("crm.\(entity).get", ["id": .string(id)]).result.objectValue ?? [:]
            for key in ["PHONE", "EMAIL"] {
                guard var item = fields[key]?.arrayValue?.first?.objectValue else { continue }
                if let existing = current[key]?.arrayValue?.first?.objectValue?["ID"] { item["ID"] = existing }
                fields[key] = [.object(item)]
            }
        }
        guard !fields.isEmpty else { return }
        _ = try await client.call("crm.\(entity).update", ["id": .string(id), "fields": .object(fields)])
    }

    /// `crm.status.list` of one list (`STATUS`, `DEAL_STAGE`, `DEAL_STAGE_1`…): id → name.
    static func statusList(_ client: Bitrix24Client, entityID: String) async throws -> [String: String] {
        let answer = try await client.call("crm.status.list", ["filter": ["ENTITY_ID": .string(entityID)]])
        var found: [String: String] = [:]
        for row in answer.result.arrayValue ?? [] {
            guard let object = row.objectValue, let id = object["STATUS_ID"].flatMap(Self.text) else { continue }
            found[id] = object["NAME"].flatMap(Self.text) ?? id
        }
        return found
    }

    /// The id an `add` answered with.
    static func id(of answer: Bitrix24Answer, method: String) throws -> String {
        guard let id = text(answer.result) else { throw Bitrix24Error(status: 200, code: "UNEXPECTED_ANSWER", message: "\(method) answered without an id") }
        return id
    }

    /// Our neutral keys → Bitrix24 lead (and contact) fields. `fields` of the person pass through as given.
    static func fields(_ values: [String: JSONValue]) -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        for (key, value) in values {
            switch key {
            case "title": fields["TITLE"] = value
            case "name": fields["NAME"] = value
            case "status": fields["STATUS_ID"] = value
            case "source": fields["SOURCE_ID"] = value
            case "phone": fields["PHONE"] = value == .null ? nil : [["VALUE": value, "VALUE_TYPE": "WORK"]]
            case "email": fields["EMAIL"] = value == .null ? nil : [["VALUE": value, "VALUE_TYPE": "WORK"]]
            default: fields[key] = value
            }
        }
        return fields
    }

    static func text(_ value: JSONValue) -> String? {
        switch value {
        case .string(let text): text
        case .number(let number): String(Int64(number))
        default: nil
        }
    }
}
