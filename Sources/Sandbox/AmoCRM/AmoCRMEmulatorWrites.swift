import Foundation
import SwitchboardCore

/// Writes: leads and contacts created and changed through the API or "by a user" (test control), calls,
/// webhook subscriptions.
extension AmoCRMEmulator {
    /// The most records one write may carry.
    static let maxBatch = 250

    func create(_ entity: String, _ body: String) -> Answer {
        guard let items = JSONValue(jsonText: body)?.arrayValue, !items.isEmpty else {
            return Self.validation(path: "", code: "InvalidType", detail: "The body must be a non-empty array of \(entity).")
        }
        guard items.count <= Self.maxBatch else { return Self.validation(path: "", code: "TooMany", detail: "No more than 250 items at once.") }
        var created: [(Int, String, [String: JSONValue])] = []
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue else { return Self.validation(path: "\(index)", code: "InvalidType", detail: "This value should be of type object.") }
            let id = nextID[entity, default: 1]
            var row: [String: JSONValue] = [
                "id": .number(Double(id)), "name": "", "responsible_user_id": .number(Double(Self.users[0].id)), "group_id": 0,
                "created_by": 0, "updated_by": 0, "account_id": .number(Double(accountID)), "closest_task_at": .null, "custom_fields_values": .null,
                "_links": ["self": ["href": .string("/api/v4/\(entity)/\(id)")]], "_embedded": ["tags": [], "companies": []],
            ]
            if entity == "leads" {
                row.merge(["price": 0, "status_id": .number(Double(Self.statuses(pipeline: Self.pipelineID)[1].id)), "pipeline_id": .number(Double(Self.pipelineID)),
                           "loss_reason_id": .null, "closed_at": .null, "is_deleted": false, "score": .null, "labor_cost": .null]) { _, new in new }
            } else {
                row.merge(["first_name": "", "last_name": "", "is_unsorted": false]) { _, new in new }
            }
            if let error = apply(object, to: &row, entity: entity, index: index) { return error }
            let now = JSONValue.number(Double(Int(clock())))
            row["created_at"] = now
            row["updated_at"] = now
            created.append((id, object["request_id"]?.scalarText ?? String(index), row))
            nextID[entity] = id + 1
        }
        var answered: [JSONValue] = []
        for (id, requestID, row) in created {
            records[entity, default: [:]][id] = row
            orderedIDs[entity] = nil
            answered.append(["id": .number(Double(id)), "request_id": .string(requestID), "_links": ["self": ["href": .string("\(baseURL)/api/v4/\(entity)/\(id)")]]])
            notify(entity, action: "add", row: row, old: nil)
        }
        return Self.ok(["_links": ["self": ["href": .string("\(baseURL)/api/v4/\(entity)")]], "_embedded": [entity: .array(answered)]])
    }

    func update(_ entity: String, id pathID: Int?, _ body: String) -> Answer {
        let parsed = JSONValue(jsonText: body)
        let items = pathID == nil ? parsed?.arrayValue : parsed.map { [$0] }
        guard let items, !items.isEmpty else { return Self.validation(path: "", code: "InvalidType", detail: "The body must be \(pathID == nil ? "a non-empty array" : "an object").") }
        guard items.count <= Self.maxBatch else { return Self.validation(path: "", code: "TooMany", detail: "No more than 250 items at once.") }
        var changed: [(Int, [String: JSONValue], [String: JSONValue])] = []
        for (index, item) in items.enumerated() {
            guard let object = item.objectValue else { return Self.validation(path: "\(index)", code: "InvalidType", detail: "This value should be of type object.") }
            guard let id = pathID ?? object["id"]?.intValue, let old = records[entity]?[id] else {
                return Self.validation(path: pathID == nil ? "\(index).id" : "id", code: "NotFound", detail: "Entity not found")
            }
            var row = old
            if let error = apply(object, to: &row, entity: entity, index: index) { return error }
            row["updated_at"] = .number(Double(max(Int(clock()), (old["updated_at"]?.intValue ?? 0) + 1)))
            changed.append((id, row, old))
        }
        var answered: [JSONValue] = []
        for (id, row, old) in changed {
            records[entity]?[id] = row
            answered.append(["id": .number(Double(id)), "updated_at": row["updated_at"] ?? .null, "_links": ["self": ["href": .string("\(baseURL)/api/v4/\(entity)/\(id)")]]])
            notify(entity, action: "update", row: row, old: old)
        }
        if pathID != nil, let first = answered.first { return Self.ok(first) }
        return Self.ok(["_links": ["self": ["href": .string("\(baseURL)/api/v4/\(entity)")]], "_embedded": [entity: .array(answered)]])
    }

    /// `POST /api/v4/leads/{id}/link`: `[{"to_entity_id", "to_entity_type": "contacts", "metadata": {"is_main"}}]`.
    func link(lead id: Int, _ body: String) -> Answer {
        guard var row = records["leads"]?[id] else { return Self.problem(404, "Not Found", detail: "Lead not found") }
        guard let items = JSONValue(jsonText: body)?.arrayValue, !items.isEmpty else {
            return Self.validation(path: "", code: "InvalidType", detail: "The body must be a non-empty array of links.")
        }
        var embedded = row["_embedded"]?.objectValue ?? [:]
        var contacts = embedded["contacts"]?.arrayValue ?? []
        for (index, item) in items.enumerated() {
            let object = item.objectValue ?? [:]
            guard object["to_entity_type"]?.stringValue == "contacts", let contact = object["to_entity_id"]?.intValue, records["contacts"]?[contact] != nil else {
                return Self.validation(path: "\(index).to_entity_id", code: "NotFound", detail: "Entity not found")
            }
            if !contacts.contains(where: { $0.objectValue?["id"]?.intValue == contact }) {
                contacts.append(["id": .number(Double(contact)), "is_main": .bool(contacts.isEmpty)])
            }
        }
        embedded["contacts"] = .array(contacts)
        row["_embedded"] = .object(embedded)
        records["leads"]?[id] = row
        return Self.ok(["_embedded": ["links": .array(items)]])
    }

    /// `POST /api/v4/leads/complex`: each lead with new contacts in one request; answers a bare array.
    func createComplex(_ body: String) -> Answer {
        guard let items = JSONValue(jsonText: body)?.arrayValue, !items.isEmpty, items.count <= 50 else {
            return Self.validation(path: "", code: "InvalidType", detail: "The body must be an array of 1–50 leads.")
        }
        var answers: [JSONValue] = []
        for (index, item) in items.enumerated() {
            guard var lead = item.objectValue else { return Self.validation(path: "\(index)", code: "InvalidType", detail: "This value should be of type object.") }
            let contacts = lead["_embedded"]?.objectValue?["contacts"]?.arrayValue ?? []
            var contactIDs: [JSONValue] = []
            for (position, contact) in contacts.enumerated() {
                if let id = contact.objectValue?["id"] { contactIDs.append(["id": id, "is_main": .bool(position == 0)]); continue }
                let made = create("contacts", JSONValue.array([contact]).jsonText)
                guard made.status == 200, let id = JSONValue(jsonText: made.body)?.objectValue?["_embedded"]?.objectValue?["contacts"]?.arrayValue?.first?.objectValue?["id"] else {
                    return Self.validation(path: "\(index)._embedded.contacts.\(position)", code: "InvalidValue", detail: "The contact is not valid.")
                }
                contactIDs.append(["id": id, "is_main": .bool(position == 0)])
            }
            lead["_embedded"] = ["contacts": .array(contactIDs)]
            let made = create("leads", JSONValue.array([.object(lead)]).jsonText)
            guard made.status == 200, let id = JSONValue(jsonText: made.body)?.objectValue?["_embedded"]?.objectValue?["leads"]?.arrayValue?.first?.objectValue?["id"] else {
                return made
            }
            answers.append([
                "id": id, "contact_id": contactIDs.first?.objectValue?["id"] ?? .null, "company_id": .null,
                "request_id": [.string(String(index))], "merged": false,
            ])
        }
        return Self.ok(.array(answers))
    }

    /// Applies writable keys of `object` to `row`, or answers the 400 amoCRM would (naming `index.key`).
    func apply(_ object: [String: JSONValue], to row: inout [String: JSONValue], entity: String, index: Int) -> Answer? {
        let writable: Set<String> = entity == "leads"
            ? ["id", "name", "price", "status_id", "pipeline_id", "responsible_user_id", "created_by", "updated_by", "closed_at", "loss_reason_id", "custom_fields_values", "_embedded", "request_id", "created_at", "updated_at"]
            : ["id", "name", "first_name", "last_name", "responsible_user_id", "created_by", "updated_by", "custom_fields_values", "_embedded", "request_id", "created_at", "updated_at"]
        for key in object.keys where !writable.contains(key) {
            return Self.validation(path: "\(index).\(key)", code: "NotSupportedChoice", detail: "This field is not expected.")
        }
        for key in ["name", "first_name", "last_name"] where object[key] != nil {
            guard let text = object[key]?.stringValue else { return Self.validation(path: "\(index).\(key)", code: "InvalidType", detail: "This value should be of type string.") }
            row[key] = .string(text)
        }
        for key in ["price", "responsible_user_id", "loss_reason_id", "closed_at"] where object[key] != nil {
            guard object[key] == .null || object[key]?.intValue != nil else { return Self.validation(path: "\(index).\(key)", code: "InvalidType", detail: "This value should be of type int.") }
            row[key] = object[key]
        }
        if entity == "leads", object["status_id"] != nil || object["pipeline_id"] != nil {
            let pipeline = object["pipeline_id"]?.intValue ?? row["pipeline_id"]?.intValue ?? Self.pipelineID
            guard [Self.pipelineID, Self.secondPipelineID].contains(pipeline) else {
                return Self.validation(path: "\(index).pipeline_id", code: "NotSupportedChoice", detail: "The value you selected is not a valid choice.")
            }
            let status = object["status_id"]?.intValue ?? Self.statuses(pipeline: pipeline)[1].id
            // Won and lost are in every pipeline: amoCRM wants to be told which.
            if (status == 142 || status == 143) && object["pipeline_id"] == nil {
                return Self.validation(path: "\(index).pipeline_id", code: "NotBlank", detail: "pipeline_id is required with a system status.")
            }
            guard Self.statusIDs(pipeline: pipeline).contains(status) else {
                return Self.validation(path: "\(index).status_id", code: "NotSupportedChoice", detail: "The value you selected is not a valid choice.")
            }
            row["pipeline_id"] = .number(Double(pipeline))
            row["status_id"] = .number(Double(status))
            if status == 142 || status == 143, row["closed_at"] == .null { row["closed_at"] = .number(Double(Int(clock()))) }
        }
        if let values = object["custom_fields_values"] {
            guard let fields = values.arrayValue else { return Self.validation(path: "\(index).custom_fields_values", code: "InvalidType", detail: "This value should be of type array.") }
            let definitions = self.definitions(entity).compactMap(\.objectValue)
            var stored = Dictionary((row["custom_fields_values"]?.arrayValue ?? []).compactMap { field in field.objectValue.map { ($0["field_id"]?.intValue ?? 0, $0) } }, uniquingKeysWith: { _, new in new })
            for (position, field) in fields.enumerated() {
                let object = field.objectValue ?? [:]
                let definition = definitions.first { $0["id"]?.intValue == object["field_id"]?.intValue && object["field_id"] != nil }
                    ?? definitions.first { object["field_code"]?.stringValue != nil && $0["code"]?.stringValue == object["field_code"]?.stringValue }
                guard let definition, let fieldID = definition["id"]?.intValue else {
                    return Self.validation(path: "\(index).custom_fields_values.\(position).field_id", code: "NotSupportedChoice", detail: "The value you selected is not a valid choice.")
                }
                guard let items = object["values"]?.arrayValue else {
                    return Self.validation(path: "\(index).custom_fields_values.\(position).values", code: "InvalidType", detail: "This value should be of type array.")
                }
                stored[fieldID] = [
                    "field_id": .number(Double(fieldID)), "field_name": definition["name"] ?? .null, "field_code": definition["code"] ?? .null,
                    "field_type": definition["type"] ?? "text", "values": .array(items),
                ]
            }
            let merged = stored.keys.sorted().compactMap { stored[$0].map(JSONValue.object) }
            row["custom_fields_values"] = merged.isEmpty ? .null : .array(merged)
        }
        if let links = object["_embedded"]?.objectValue {
            for key in ["contacts", "companies"] {
                for (position, link) in (links[key]?.arrayValue ?? []).enumerated() {
                    guard let id = link.objectValue?["id"]?.intValue, records[key]?[id] != nil else {
                        return Self.validation(path: "\(index)._embedded.\(key).\(position).id", code: "NotFound", detail: "Entity not found")
                    }
                }
            }
            var embedded = row["_embedded"]?.objectValue ?? [:]
            for key in ["contacts", "companies", "tags"] where links[key] != nil { embedded[key] = links[key] }
            row["_embedded"] = .object(embedded)
        }
        return nil
    }

    /// A user changed a record in amoCRM's interface (test control): the change is stored and webhooks go out.
    public func userChanged(_ entity: String, id: Int, _ changes: [String: JSONValue]) {
        guard let old = records[entity]?[id] else { return }
        var row = old
        _ = apply(changes, to: &row, entity: entity, index: 0)
        row["updated_at"] = .number(Double(max(Int(clock()), (old["updated_at"]?.intValue ?? 0) + 1)))
        records[entity]?[id] = row
        notify(entity, action: "update", row: row, old: old)
    }

    /// A user deleted a record (test control): it leaves the lists, shows under `with=only_deleted`, webhooks go out.
    public func userDeleted(_ entity: String, id: Int) {
        guard var row = records[entity]?.removeValue(forKey: id) else { return }
        orderedIDs[entity] = nil
        row["is_deleted"] = true
        row["updated_at"] = .number(Double(max(Int(clock()), (row["updated_at"]?.intValue ?? 0) + 1)))
        deleted[entity, default: [:]][id] = row
        notify(entity, action: "delete", row: row, old: nil)
    }

    func addCalls(_ body: String) -> Answer {
        guard let items = JSONValue(jsonText: body)?.arrayValue, !items.isEmpty else {
            return Self.validation(path: "", code: "InvalidType", detail: "The body must be a non-empty array of calls.")
        }
        var added: [JSONValue] = []
        var errors: [JSONValue] = []
        for (index, item) in items.enumerated() {
            let call = item.objectValue ?? [:]
            let requestID = call["request_id"]?.scalarText ?? String(index)
            guard call["direction"]?.stringValue == "inbound" || call["direction"]?.stringValue == "outbound" else {
                return Self.validation(path: "\(index).direction", code: "NotSupportedChoice", detail: "The value you selected is not a valid choice.", requestID: requestID)
            }
            for key in ["phone", "source"] where (call[key]?.stringValue ?? "").isEmpty {
                return Self.validation(path: "\(index).\(key)", code: "NotBlank", detail: "This value should not be blank.", requestID: requestID)
            }
            guard call["duration"]?.intValue != nil else {
                return Self.validation(path: "\(index).duration", code: "InvalidType", detail: "This value should be of type int.", requestID: requestID)
            }
            if let status = call["call_status"], !(1...8).contains(status.intValue ?? 0) {
                return Self.validation(path: "\(index).call_status", code: "NotSupportedChoice", detail: "The value you selected is not a valid choice.", requestID: requestID)
            }
            guard let contact = contactID(phone: call["phone"]?.stringValue ?? "") else {
                refusedCalls.append(call)
                errors.append(["request_id": .string(requestID), "title": "Entity not found", "detail": "No contact or company has this phone number; the call was not added", "status": 400])
                continue
            }
            var stored = call
            stored["id"] = .number(Double(calls.count + 1))
            stored["entity_id"] = .number(Double(contact))
            stored["entity_type"] = "contacts"
            calls.append(stored)
            added.append(["id": stored["id"]!, "entity_id": .number(Double(contact)), "entity_type": "contacts", "request_id": .string(requestID), "account_id": .number(Double(accountID))])
        }
        var answer: [String: JSONValue] = ["_total_items": .number(Double(added.count)), "_embedded": ["calls": .array(added)]]
        if !errors.isEmpty { answer["errors"] = .array(errors) }
        return Self.ok(.object(answer))
    }

    func addTasks(_ body: String) -> Answer {
        guard let items = JSONValue(jsonText: body)?.arrayValue, !items.isEmpty else {
            return Self.validation(path: "", code: "InvalidType", detail: "The body must be a non-empty array of tasks.")
        }
        var added: [JSONValue] = []
        for (index, item) in items.enumerated() {
            var task = item.objectValue ?? [:]
            guard !(task["text"]?.stringValue ?? "").isEmpty else { return Self.validation(path: "\(index).text", code: "NotBlank", detail: "This value should not be blank.") }
            guard task["complete_till"]?.intValue != nil else { return Self.validation(path: "\(index).complete_till", code: "InvalidType", detail: "This value should be of type int.") }
            if let type = task["entity_type"]?.stringValue, !Self.entities.contains(type) {
                return Self.validation(path: "\(index).entity_type", code: "NotSupportedChoice", detail: "The value you selected is not a valid choice.")
            }
            task["id"] = .number(Double(tasks.count + 1))
            tasks.append(task)
            added.append(["id": task["id"]!, "request_id": task["request_id"] ?? .string(String(index))])
        }
        return Self.ok(["_embedded": ["tasks": .array(added)]])
    }

    /// `POST /api/v2/events` (the old API, still the documented way to raise the incoming-call popup).
    func addPopups(_ body: String) -> Answer {
        guard let events = JSONValue(jsonText: body)?.objectValue?["add"]?.arrayValue, !events.isEmpty else {
            return Answer(status: 400, contentType: "application/json", body: #"{"response":{"error":"Empty request","error_code":"400"}}"#)
        }
        for event in events {
            guard let object = event.objectValue, object["type"]?.stringValue == "phone_call", !(object["phone_number"]?.stringValue ?? "").isEmpty else {
                return Answer(status: 400, contentType: "application/json", body: #"{"response":{"error":"Invalid event","error_code":"400"}}"#)
            }
            popups.append(object)
        }
        return Answer(status: 200, contentType: "application/json", body: #"{"_embedded":{"items":[]}}"#)
    }

    /// The contact with this phone number (the last 10 digits compared, as amoCRM's search matches numbers).
    func contactID(phone: String) -> Int? {
        let wanted = String(phone.filter(\.isNumber).suffix(10))
        guard wanted.count >= 7 else { return nil }
        for (id, row) in (records["contacts"] ?? [:]).sorted(by: { $0.key < $1.key }) {
            for field in row["custom_fields_values"]?.arrayValue ?? [] where field.objectValue?["field_code"]?.stringValue == "PHONE" {
                for value in field.objectValue?["values"]?.arrayValue ?? [] {
                    if String((value.objectValue?["value"]?.stringValue ?? "").filter(\.isNumber).suffix(10)) == wanted { return id }
                }
            }
        }
        return nil
    }

    func subscribe(_ body: String) -> Answer {
        guard let object = JSONValue(jsonText: body)?.objectValue, let destination = object["destination"]?.stringValue,
            destination.hasPrefix("http://") || destination.hasPrefix("https://")
        else { return Self.validation(path: "destination", code: "InvalidValue", detail: "This value is not a valid URL.") }
        guard let settings = object["settings"]?.arrayValue?.compactMap(\.stringValue), !settings.isEmpty else {
            return Self.validation(path: "settings", code: "NotBlank", detail: "This value should not be blank.")
        }
        webhooks.removeAll { $0.destination == destination }
        webhooks.append((destination, Set(settings)))
        return Self.ok([
            "id": .number(Double(webhooks.count)), "destination": .string(destination), "created_at": .number(Double(Int(clock()))), "sort": 1,
            "disabled": false, "settings": .array(settings.map(JSONValue.string)),
        ])
    }
}
