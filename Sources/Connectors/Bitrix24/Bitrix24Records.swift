import SwitchboardCore

/// What the lead and deal writers do alike with Bitrix24 CRM records: our correlation mark, finding a
/// record by it or by phone/e-mail, updating multi-fields without appending, status lists, field names.
enum Bitrix24Records {
    static let originator = "switchboard"

    /// `ORIGINATOR_ID` + `ORIGIN_ID`: our mark on a record, to find it again.
    static func correlationFields(_ correlation: String) -> [String: JSONValue] {
        ["ORIGINATOR_ID": .string(originator), "ORIGIN_ID": .string(correlation)]
    }

    /// The first record of `entity` (`lead`, `deal`, `contact`) carrying our correlation key.
    static func find(_ client: Bitrix24Client, entity: String, correlation: String) async throws -> String? {
        let answer = try await client.call(
            "crm.\(entity).list", ["filter": .object(correlationFields(correlation)), "select": ["ID"], "order": ["ID": "ASC"]])
        return answer.result.arrayValue?.first?.objectValue?["ID"]?.scalarText
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
                if let id = found[entity]?.arrayValue?.compactMap(\.scalarText).first { return LeadDuplicate(entity: entity, id: id) }
            }
        }
        return nil
    }

    /// `crm.<entity>.add` of `fields`; returns the new id.
    static func add(_ client: Bitrix24Client, entity: String, _ fields: [String: JSONValue], params: [String: JSONValue]? = nil) async throws -> String {
        var body: [String: JSONValue] = ["fields": .object(fields)]
        if let params { body["params"] = .object(params) }
        guard let id = try await client.call("crm.\(entity).add", body).result.scalarText else {
            throw Bitrix24Error(status: 200, code: "UNEXPECTED_ANSWER", message: "crm.\(entity).add answered without an id")
        }
        return id
    }

    /// `crm.<entity>.update` of `fields`. A multi-field value without its ID would be appended: the
    /// record's first phone / e-mail is overwritten instead.
    static func update(_ client: Bitrix24Client, entity: String, id: String, _ fields: [String: JSONValue]) async throws {
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
            guard let object = row.objectValue, let id = object["STATUS_ID"]?.scalarText else { continue }
            found[id] = object["NAME"]?.scalarText ?? id
        }
        return found
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
}
