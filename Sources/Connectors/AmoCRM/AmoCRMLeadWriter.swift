import Foundation
import SwitchboardCore

/// People → amoCRM leads (the People API's writer for amoCRM). An amoCRM lead is a deal card; the
/// person's phone and e-mail live on its main contact, so a new person becomes a lead with a new contact in
/// one request (`/api/v4/leads/complex`), or a lead linked to the contact that already has the number.
///
/// Exactly once: every lead carries our correlation key in an API-only text field (code `SWITCHBOARD_ID`,
/// created once per account), which `filter[custom_fields_values]` finds when a create's answer was lost.
public struct AmoCRMLeadWriter: LeadWriter {
    public static let kind = "amocrm"
    /// The code of the hidden field holding the correlation key.
    public static let correlationCode = "SWITCHBOARD_ID"

    public let client: AmoCRMClient
    /// The pipeline new leads go to (nil: the account's main pipeline).
    public let pipelineID: Int?
    /// The id of the `SWITCHBOARD_ID` field (``ensureCorrelationField(_:)``).
    public let correlationFieldID: Int

    public var kind: String { Self.kind }
    public var entity: String { "lead" }

    public init(client: AmoCRMClient, pipelineID: Int?, correlationFieldID: Int) {
        self.client = client
        self.pipelineID = pipelineID
        self.correlationFieldID = correlationFieldID
    }

    /// The id of the account's `SWITCHBOARD_ID` lead field, created (API-only, hidden from editing) when missing.
    public static func ensureCorrelationField(_ client: AmoCRMClient) async throws -> Int {
        if let id = try await correlationField(client) { return id }
        let answer: [String: JSONValue]?
        do {
            answer = try await client.send(
                .POST, "/api/v4/leads/custom_fields",
                body: [["name": "Switchboard ID", "type": "text", "code": .string(correlationCode), "is_api_only": true, "sort": 9999]])
        } catch let error as AmoCRMError where error.status == 400 {
            // Another worker made it a moment ago (the code is taken): use theirs.
            if let id = try await correlationField(client) { return id }
            throw error
        }
        guard let id = AmoCRMClient.embedded(answer ?? [:], "custom_fields").first?.objectValue?["id"]?.intValue else {
            throw AmoCRMError(status: 502, title: "Bad Gateway", detail: "amoCRM created no SWITCHBOARD_ID field", fields: [])
        }
        return id
    }

    static func correlationField(_ client: AmoCRMClient) async throws -> Int? {
        var fields: [JSONValue] = []
        try await client.pages("/api/v4/leads/custom_fields", embedded: "custom_fields") { fields += $0 }
        return fields.first(where: { $0.objectValue?["code"]?.stringValue == correlationCode })?.objectValue?["id"]?.intValue
    }

    public func lead(correlation: String) async throws -> String? {
        let (rows, _) = try await client.page(
            "/api/v4/leads", embedded: "leads", query: [("filter[custom_fields_values][\(correlationFieldID)][]", correlation), ("limit", "1")])
        return rows.first?.objectValue?["id"]?.scalarText
    }

    public func duplicate(phone: String?, email: String?) async throws -> LeadDuplicate? {
        try await AmoCRMContacts.find(client, phone: phone, email: email).map { LeadDuplicate(entity: "CONTACT", id: String($0)) }
    }

    public func create(_ values: [String: JSONValue], correlation: String, contactID: String?, triedBefore: Bool) async throws -> String {
        var lead = try await leadFields(values)
        lead["custom_fields_values"] = .array(customFields(values) + [correlationValue(correlation)])
        if let contactID, let id = Int(contactID) {
            lead["_embedded"] = ["contacts": [["id": .number(Double(id)), "is_main": true]]]
            let answer = try await client.send(.POST, "/api/v4/leads", body: [.object(lead)])
            return try Self.createdID(answer, "leads")
        }
        lead["_embedded"] = ["contacts": [.object(contactFields(values, name: values["name"]))]]
        let answer = try await client.send(.POST, "/api/v4/leads/complex", body: [.object(lead)])
        guard let id = Self.complexID(answer) else { throw AmoCRMError(status: 502, title: "Bad Gateway", detail: "amoCRM created no lead", fields: []) }
        return id
    }

    public func update(leadID: String, _ values: [String: JSONValue], correlation: String?) async throws {
        var lead = try await leadFields(values, leadID: leadID)
        var custom = customFields(values)
        if let correlation { custom.append(correlationValue(correlation)) }
        if !custom.isEmpty { lead["custom_fields_values"] = .array(custom) }
        if !lead.isEmpty { _ = try await client.send(.PATCH, "/api/v4/leads/\(leadID)", body: .object(lead)) }
        // Phone and e-mail are the main contact's: its values are replaced, not added to.
        let contact = contactFields(values, name: nil)
        guard contact["custom_fields_values"] != nil else { return }
        let current = try await client.get("/api/v4/leads/\(leadID)", query: [("with", "contacts")]) ?? [:]
        let links = current["_embedded"]?.objectValue?["contacts"]?.arrayValue ?? []
        if let main = (links.first { $0.objectValue?["is_main"]?.boolValue == true } ?? links.first)?.objectValue?["id"]?.scalarText {
            _ = try await client.send(.PATCH, "/api/v4/contacts/\(main)", body: .object(contact))
            return
        }
        // A lead without a contact (someone unlinked it): a new contact, linked as the main one.
        let made = try await client.send(.POST, "/api/v4/contacts", body: [.object(contactFields(values, name: values["name"] ?? current["name"]))])
        let contactID = try Self.createdID(made, "contacts")
        _ = try await client.send(
            .POST, "/api/v4/leads/\(leadID)/link",
            body: [["to_entity_id": .number(Double(Int(contactID) ?? 0)), "to_entity_type": "contacts", "metadata": ["is_main": true]]])
    }

    public func statuses() async throws -> [String: String] {
        let object = try await client.get("/api/v4/leads/pipelines") ?? [:]
        let pipelines = AmoCRMClient.embedded(object, "pipelines").compactMap(\.objectValue)
        guard let pipeline = pipelines.first(where: { pipelineID == nil ? $0["is_main"]?.boolValue == true : $0["id"]?.intValue == pipelineID })
            ?? (pipelineID == nil ? pipelines.first : nil)
        else { return [:] }
        var statuses: [String: String] = [:]
        for status in pipeline["_embedded"]?.objectValue?["statuses"]?.arrayValue ?? [] {
            guard let object = status.objectValue, let id = object["id"]?.scalarText else { continue }
            statuses[id] = object["name"]?.stringValue ?? id
        }
        return statuses
    }

    /// The account's main pipeline.
    func mainPipelineID() async throws -> Int? {
        let pipelines = AmoCRMClient.embedded(try await client.get("/api/v4/leads/pipelines") ?? [:], "pipelines").compactMap(\.objectValue)
        return (pipelines.first { $0["is_main"]?.boolValue == true } ?? pipelines.first)?["id"]?.intValue
    }

    // MARK: mapping

    /// `name`, `status_id` (+ `pipeline_id`, which amoCRM needs with 142/143), `price` from the neutral values.
    func leadFields(_ values: [String: JSONValue], leadID: String? = nil) async throws -> [String: JSONValue] {
        var lead: [String: JSONValue] = [:]
        if let title = values["title"] ?? values["name"] { lead["name"] = title }
        if let status = values["status"]?.scalarText {
            guard let id = Int(status) else {
                throw AmoCRMError(status: 400, title: "Bad Request", detail: "the stage maps to '\(status)', which is not an amoCRM status id", fields: [])
            }
            lead["status_id"] = .number(Double(id))
            if let pipelineID {
                lead["pipeline_id"] = .number(Double(pipelineID))
            } else if id == 142 || id == 143 {
                // Won and lost exist in every pipeline: amoCRM needs to be told which — the lead's own one.
                var pipeline: Int?
                if let leadID { pipeline = try await client.get("/api/v4/leads/\(leadID)")?["pipeline_id"]?.intValue }
                if pipeline == nil { pipeline = try await mainPipelineID() }
                lead["pipeline_id"] = pipeline.map { .number(Double($0)) } ?? .null
            }
        }
        if let price = values["price"], price.intValue != nil { lead["price"] = price }
        return lead
    }

    /// Lead custom fields the app sent as `cf_<field id>` (other app fields have no place in amoCRM).
    func customFields(_ values: [String: JSONValue]) -> [JSONValue] {
        values.keys.sorted().compactMap { key in
            guard key.hasPrefix("cf_"), let id = Int(key.dropFirst(3)), let value = values[key], value != .null else { return nil }
            return ["field_id": .number(Double(id)), "values": [["value": value]]]
        }
    }

    func correlationValue(_ correlation: String) -> JSONValue {
        ["field_id": .number(Double(correlationFieldID)), "values": [["value": .string(correlation)]]]
    }

    /// The contact's name and its PHONE / EMAIL fields (by code: the same in every account).
    func contactFields(_ values: [String: JSONValue], name: JSONValue?) -> [String: JSONValue] {
        var contact: [String: JSONValue] = [:]
        if let name { contact["name"] = name }
        var custom: [JSONValue] = []
        if let phone = values["phone"]?.stringValue { custom.append(["field_code": "PHONE", "values": [["value": .string(phone), "enum_code": "WORK"]]]) }
        if let email = values["email"]?.stringValue { custom.append(["field_code": "EMAIL", "values": [["value": .string(email), "enum_code": "WORK"]]]) }
        if !custom.isEmpty { contact["custom_fields_values"] = .array(custom) }
        return contact
    }

    static func createdID(_ answer: [String: JSONValue]?, _ entity: String) throws -> String {
        guard let id = AmoCRMClient.embedded(answer ?? [:], entity).first?.objectValue?["id"]?.scalarText else {
            throw AmoCRMError(status: 502, title: "Bad Gateway", detail: "amoCRM created no \(entity)", fields: [])
        }
        return id
    }

    /// `/leads/complex` answers a bare array `[{id, contact_id, company_id, request_id, merged}]`, which the
    /// client hands over as `{"_items": […]}`.
    static func complexID(_ answer: [String: JSONValue]?) -> String? {
        answer?["_items"]?.arrayValue?.first?.objectValue?["id"]?.scalarText
    }
}

