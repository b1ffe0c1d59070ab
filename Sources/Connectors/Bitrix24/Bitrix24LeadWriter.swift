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
            "crm.lead.list",
            ["filter": ["ORIGINATOR_ID": .string(Self.originator), "ORIGIN_ID": .string(correlation)], "select": ["ID"], "order": ["ID": "ASC"]])
        return answer.result.arrayValue?.first?.objectValue?["ID"].flatMap(Self.text)
    }

    public func duplicate(phone: String?, email: String?) async throws -> LeadDuplicate? {
        for (type, value) in [("PHONE", phone), ("EMAIL", email)] {
            guard let value, !value.isEmpty else { continue }
            let answer = try await client.call("crm.duplicate.findbycomm", ["type": .string(type), "values": [.string(value)]])
            // `{"LEAD":[…],"CONTACT":[…]}`, or `[]` when nothing matches.
            guard let found = answer.result.objectValue else { continue }
            for entity in ["LEAD", "CONTACT"] {
                if let id = found[entity]?.arrayValue?.compactMap(Self.text).first { return LeadDuplicate(entity: entity, id: id) }
            }
        }
        return nil
    }

    public func create(_ values: [String: JSONValue], correlation: String, contactID: String?) async throws -> String {
        var fields = Self.fields(values)
        fields["ORIGINATOR_ID"] = .string(Self.originator)
        fields["ORIGIN_ID"] = .string(correlation)
        if let contactID { fields["CONTACT_ID"] = .string(contactID) }
        let answer = try await client.call("crm.lead.add", ["fields": .object(fields), "params": ["REGISTER_SONET_EVENT": "Y"]])
        guard let id = Self.text(answer.result) else {
            throw Bitrix24Error(status: 200, code: "UNEXPECTED_ANSWER", message: "crm.lead.add answered without an id")
        }
        return id
    }

    public func update(leadID: String, _ values: [String: JSONValue], correlation: String?) async throws {
        var fields = Self.fields(values)
        if let correlation {
            fields["ORIGINATOR_ID"] = .string(Self.originator)
            fields["ORIGIN_ID"] = .string(correlation)
        }
        // A multi-field value without its ID is appended: overwrite the lead's first phone / e-mail instead.
        if fields["PHONE"] != nil || fields["EMAIL"] != nil {
            let current = try await client.call("crm.lead.get", ["id": .string(leadID)]).result.objectValue ?? [:]
            for key in ["PHONE", "EMAIL"] {
                guard var item = fields[key]?.arrayValue?.first?.objectValue else { continue }
                if let existing = current[key]?.arrayValue?.first?.objectValue?["ID"] { item["ID"] = existing }
                fields[key] = [.object(item)]
            }
        }
        guard !fields.isEmpty else { return }
        _ = try await client.call("crm.lead.update", ["id": .string(leadID), "fields": .object(fields)])
    }

    public func statuses() async throws -> [String: String] {
        let answer = try await client.call("crm.status.list", ["filter": ["ENTITY_ID": "STATUS"]])
        var found: [String: String] = [:]
        for row in answer.result.arrayValue ?? [] {
            guard let object = row.objectValue, let id = object["STATUS_ID"].flatMap(Self.text) else { continue }
            found[id] = object["NAME"].flatMap(Self.text) ?? id
        }
        return found
    }

    /// Our neutral keys → Bitrix24 lead fields. `fields` of the person pass through as given.
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
