import Bitrix24
import Foundation
import SwitchboardCore

/// `crm.{entity}.get/add/update/delete` and the record test controls of the Bitrix24 emulator.
extension Bitrix24Emulator {
    var nowISO: String { B24.iso(clock()) }

    func generatedCount(_ entity: Bitrix24Entity) -> Int { generator.counts[entity, default: 0] }
    func maxID(_ entity: Bitrix24Entity) -> Int { nextID[entity, default: 1] - 1 }

    func exists(_ entity: Bitrix24Entity, _ id: Int) -> Bool {
        guard id >= 1, id <= maxID(entity), !(deleted[entity]?.contains(id) ?? false) else { return false }
        return id <= generatedCount(entity) || patches[entity]?[id] != nil
    }

    /// Every field an entity has now: the standard ones and its current user fields.
    func schema(_ entity: Bitrix24Entity) -> [Bitrix24Field] {
        B24Catalog.standardFields(entity) + (userFields[entity] ?? [])
    }

    /// The stored-or-generated record with every key it holds (before select).
    func fullRecord(_ entity: Bitrix24Entity, _ id: Int) -> [String: JSONValue] {
        var record = id <= generatedCount(entity) ? generator.record(entity, id, userFields: userFields[entity] ?? []) : [:]
        if let patch = patches[entity]?[id] { record.merge(patch) { $1 } }
        return record
    }

    /// A record as `get` returns it: the current schema's fields, empty multi-fields left out.
    func outputRecord(_ entity: Bitrix24Entity, _ id: Int, keep: (Bitrix24Field) -> Bool = { _ in true }) -> JSONValue {
        let record = fullRecord(entity, id)
        var out: [String: JSONValue] = [:]
        for field in schema(entity) where keep(field) || field.code == "ID" {
            if field.code == "CONTACT_IDS" { continue }  // only through crm.deal.contact.items.get / crm.item
            let value = record[field.code] ?? .null
            if field.type == "crm_multifield" {
                if let items = value.b24Array, !items.isEmpty { out[field.code] = value }
            } else {
                out[field.code] = value
            }
        }
        return .object(out)
    }

    func idParam(_ params: [String: JSONValue]) -> Int? {
        param(params, "id").flatMap { $0.intValue }
    }

    func get(_ entity: Bitrix24Entity, _ params: [String: JSONValue]) -> Outcome {
        guard let id = idParam(params), id > 0 else { return .fail(400, "", "ID is not defined or invalid.") }
        guard exists(entity, id) else { return .notFound }
        return .ok(outputRecord(entity, id))
    }

    /// Converts incoming field values to what the portal stores (strings; multi-fields as lists with ids).
    private func normalise(_ entity: Bitrix24Entity, _ fields: [String: JSONValue], current: [String: JSONValue]) -> Result<[String: JSONValue], Outcome> {
        var patch: [String: JSONValue] = [:]
        let known = Dictionary(schema(entity).map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        for (rawKey, value) in fields {
            let key = rawKey.uppercased()
            guard let field = known[key], !field.isReadOnly, key != "CONTACT_IDS" else { continue }  // unknown and read-only keys are ignored
            if field.type == "crm_multifield" {
                patch[key] = .array(mergeMultifield(type: key, existing: current[key]?.b24Array ?? [], incoming: value))
            } else if field.type == "boolean" {
                let flag = value.boolValue ?? (B24.text(value) == "Y")
                patch[key] = flag ? "1" : "0"
            } else if let items = value.b24Array {
                patch[key] = items.first.flatMap(B24.text).map(JSONValue.string) ?? .null
            } else {
                patch[key] = B24.text(value).map(JSONValue.string) ?? .null
            }
        }
        return .success(patch)
    }

    /// Bitrix24's multi-field update: an item with an existing `ID` overwrites it (or deletes it with
    /// `DELETE:"Y"` or an empty `VALUE`), an item without `ID` is appended; unknown ids are ignored.
    func mergeMultifield(type: String, existing: [JSONValue], incoming: JSONValue) -> [JSONValue] {
        var list = existing
        let items: [JSONValue] = incoming.b24Array ?? incoming.objectValue.map { Array($0.values) } ?? []
        for item in items {
            guard let object = item.objectValue else { continue }
            let value = B24.text(object["VALUE"]) ?? ""
            if let id = B24.text(object["ID"]), !id.isEmpty {
                guard let index = list.firstIndex(where: { $0.objectValue?["ID"]?.stringValue == id }) else { continue }
                if B24.text(object["DELETE"]) == "Y" || (object["VALUE"] != nil && value.isEmpty) {
                    list.remove(at: index)
                } else if var old = list[index].objectValue {
                    if object["VALUE"] != nil { old["VALUE"] = .string(value) }
                    if let kind = B24.text(object["VALUE_TYPE"]) { old["VALUE_TYPE"] = .string(kind) }
                    list[index] = .object(old)
                }
            } else if !value.isEmpty {
                nextMultiID += 1
                let kind = B24.text(object["VALUE_TYPE"]) ?? (type == "PHONE" ? "WORK" : "WORK")
                list.append(B24Generator.multi(id: nextMultiID, type: type, valueType: kind, value: value))
            }
        }
        return list
    }

    private func fieldsParam(_ params: [String: JSONValue]) -> [String: JSONValue]? {
        switch param(params, "fields") {
        case .object(let object): object
        case .array(let items) where items.isEmpty: [:]
        default: nil
        }
    }

    func stageError(_ entity: Bitrix24Entity, category: String, stage: String?) -> Outcome? {
        guard entity == .deal, let stage else { return nil }
        guard B24Catalog.stages(category: Int(category) ?? -1).contains(stage) else {
            return .fail(400, "", "Stage '\(stage)' does not belong to the pipeline \(category)")
        }
        return nil
    }

    func add(_ entity: Bitrix24Entity, _ params: [String: JSONValue], caller: Caller) -> Outcome {
        guard let fields = fieldsParam(params) else { return .fail(400, "", "Parameter 'fields' must be array.") }
        switch insert(entity, fields, userID: caller.userID) {
        case .success(let id): return .ok(.number(Double(id)))
        case .failure(let outcome): return outcome
        }
    }

    /// Creates a record the way `crm.*.add` does (defaults, stage check, ONCRM…ADD).
    func insert(_ entity: Bitrix24Entity, _ fields: [String: JSONValue], userID: Int) -> Result<Int, Outcome> {
        var patch: [String: JSONValue]
        switch normalise(entity, fields, current: [:]) {
        case .success(let value): patch = value
        case .failure(let outcome): return .failure(outcome)
        }
        let id = nextID[entity, default: 1]
        for field in schema(entity) where patch[field.code] == nil {
            patch[field.code] = field.type == "crm_multifield" ? .array([]) : (field.type == "boolean" ? "0" : .null)
        }
        let now = nowISO
        patch["ID"] = .string(String(id))
        patch["DATE_CREATE"] = .string(now)
        patch["DATE_MODIFY"] = .string(now)
        patch["CREATED_BY_ID"] = .string(String(userID))
        patch["MODIFY_BY_ID"] = .string(String(userID))
        if patch["ASSIGNED_BY_ID"] == .null { patch["ASSIGNED_BY_ID"] = .string(String(userID)) }
        if patch["OPENED"] == .null { patch["OPENED"] = "Y" }
        if patch["CURRENCY_ID"] == .null, entity != .contact { patch["CURRENCY_ID"] = "RUB" }
        switch entity {
        case .deal:
            if patch["TITLE"] == .null { patch["TITLE"] = .string("Сделка #\(id)") }
            let category = patch["CATEGORY_ID"]?.stringValue ?? "0"
            patch["CATEGORY_ID"] = .string(category)
            if patch["STAGE_ID"] == .null { patch["STAGE_ID"] = B24Catalog.stages(category: Int(category) ?? 0).first.map(JSONValue.string) ?? .null }
            if let error = stageError(entity, category: category, stage: patch["STAGE_ID"]?.stringValue) { return .failure(error) }
            if patch["OPPORTUNITY"] == .null { patch["OPPORTUNITY"] = "0.00" }
            patch["IS_NEW"] = "Y"
            patch["CLOSED"] = "N"
            patch["STAGE_SEMANTIC_ID"] = .string(semantic(stage: patch["STAGE_ID"]?.stringValue))
        case .lead:
            if patch["STATUS_ID"] == .null { patch["STATUS_ID"] = "NEW" }
            if patch["TITLE"] == .null { patch["TITLE"] = .string("Лид #\(id)") }
            patch["STATUS_SEMANTIC_ID"] = .string(semantic(stage: patch["STATUS_ID"]?.stringValue))
        case .company:
            if patch["TITLE"] == .null { return .failure(.fail(400, "", "Не заполнено обязательное поле \"Название компании\"")) }
        case .contact:
            if patch["NAME"] == .null && patch["LAST_NAME"] == .null { patch["NAME"] = "Без имени" }
        }
        updateFlags(&patch)
        nextID[entity] = id + 1
        patches[entity, default: [:]][id] = patch
        reindexCommunications(entity, id, before: nil)
        emit("ONCRM\(entity.upper)ADD", id: id)
        return .success(id)
    }

    func semantic(stage: String?) -> String {
        guard let stage else { return "P" }
        let row = B24Catalog.statuses.first { $0.statusID == stage && ($0.entityID.hasPrefix("DEAL_STAGE") || $0.entityID == "STATUS") }
        return row?.semantics ?? "P"
    }

    private func updateFlags(_ record: inout [String: JSONValue]) {
        if let phones = record["PHONE"]?.b24Array { record["HAS_PHONE"] = phones.isEmpty ? "N" : "Y" }
        if let emails = record["EMAIL"]?.b24Array { record["HAS_EMAIL"] = emails.isEmpty ? "N" : "Y" }
    }

    func update(_ entity: Bitrix24Entity, _ params: [String: JSONValue], caller: Caller) -> Outcome {
        guard let id = idParam(params), id > 0 else { return .fail(400, "", "ID is not defined or invalid.") }
        guard let fields = fieldsParam(params) else { return .fail(400, "", "Parameter 'fields' must be array.") }
        guard exists(entity, id) else { return .notFound }
        let current = fullRecord(entity, id)
        var patch: [String: JSONValue]
        switch normalise(entity, fields, current: current) {
        case .success(let value): patch = value
        case .failure(let outcome): return outcome
        }
        patch["CATEGORY_ID"] = nil  // immutable: moving between pipelines is crm.deal.category.set
        if entity == .deal, let stage = patch["STAGE_ID"]?.stringValue {
            if let error = stageError(entity, category: current["CATEGORY_ID"]?.stringValue ?? "0", stage: stage) { return error }
            patch["STAGE_SEMANTIC_ID"] = .string(semantic(stage: stage))
            patch["CLOSED"] = semantic(stage: stage) == "P" ? "N" : "Y"
        }
        if entity == .lead, let status = patch["STATUS_ID"]?.stringValue { patch["STATUS_SEMANTIC_ID"] = .string(semantic(stage: status)) }
        patch["MODIFY_BY_ID"] = .string(String(caller.userID))
        patch["DATE_MODIFY"] = .string(nowISO)
        updateFlags(&patch)
        patches[entity, default: [:]][id, default: [:]].merge(patch) { $1 }
        reindexCommunications(entity, id, before: current)
        emit("ONCRM\(entity.upper)UPDATE", id: id)
        return .ok(true)
    }

    func delete(_ entity: Bitrix24Entity, _ params: [String: JSONValue]) -> Outcome {
        guard let id = idParam(params), id > 0 else { return .fail(400, "", "ID is not defined or invalid.") }
        guard exists(entity, id) else { return .notFound }
        remove(entity, id)
        return .ok(true)
    }

    private func remove(_ entity: Bitrix24Entity, _ id: Int) {
        let before = communicationIndex == nil ? nil : fullRecord(entity, id)
        patches[entity]?[id] = nil
        deleted[entity, default: []].insert(id)
        reindexCommunications(entity, id, before: before)
        emit("ONCRM\(entity.upper)DELETE", id: id)
    }

    // MARK: test controls (not part of Bitrix24's API)

    /// Adds a record as a user would in the portal's UI (fires `ONCRM…ADD`); returns its id, or `nil` when refused.
    @discardableResult
    public func addRecord(entity: Bitrix24Entity, fields: [String: JSONValue]) -> Int? {
        try? insert(entity, fields, userID: 1).get()
    }

    /// Bumps `DATE_MODIFY` to now and fires `ONCRM…UPDATE`, as an edit in the UI would.
    public func touch(entity: Bitrix24Entity, id: Int) {
        guard exists(entity, id) else { return }
        patches[entity, default: [:]][id, default: [:]]["DATE_MODIFY"] = .string(nowISO)
        emit("ONCRM\(entity.upper)UPDATE", id: id)
    }

    /// Changes fields of a record as the UI would (fires `ONCRM…UPDATE`).
    public func updateRecord(entity: Bitrix24Entity, id: Int, fields: [String: JSONValue]) {
        _ = update(entity, ["id": .number(Double(id)), "fields": .object(fields)], caller: Caller(viaWebhook: false, userID: 1))
    }

    /// Deletes a record as the UI would (fires `ONCRM…DELETE`).
    public func deleteRecord(entity: Bitrix24Entity, id: Int) {
        guard exists(entity, id) else { return }
        remove(entity, id)
    }

    /// How many records of an entity exist now.
    public func count(_ entity: Bitrix24Entity) -> Int {
        maxID(entity) - (deleted[entity]?.count ?? 0)
    }

    /// The record as `crm.*.get` would return it, or `nil` (test inspection).
    public func record(_ entity: Bitrix24Entity, id: Int) -> JSONValue? {
        exists(entity, id) ? outputRecord(entity, id) : nil
    }

    /// Schema drift: a new user field appears in `.fields`, and every generated record gets a deterministic value.
    public func addUserField(entity: Bitrix24Entity, code: String, type: String, label: String, items: [String] = []) {
        removeUserField(entity: entity, code: code)
        let base = 100 + Int(B24.stableHash(code) % 800) * 10
        let field = Bitrix24Field(code: code, type: type, title: code,
                                  items: items.enumerated().map { (String(base + $0.offset), $0.element) }, label: label)
        userFields[entity, default: []].append(field)
    }

    /// Schema drift: the user field disappears from `.fields` and from records.
    public func removeUserField(entity: Bitrix24Entity, code: String) {
        userFields[entity]?.removeAll { $0.code == code }
    }

    /// Schema drift: a user field changes its type (generated values follow the new type).
    public func changeFieldType(entity: Bitrix24Entity, code: String, to type: String) {
        guard let index = userFields[entity]?.firstIndex(where: { $0.code == code }) else { return }
        userFields[entity]![index].type = type
        if type != "enumeration" { userFields[entity]![index].items = [] }
    }
}

extension Bitrix24Emulator {
    /// `crm.duplicate.findbycomm {type: PHONE|EMAIL, values: [...] (≤ 20), entity_type?}` →
    /// `{"LEAD":[ids],"CONTACT":[ids],"COMPANY":[ids]}`, or `[]` when nothing matches. Phones match on
    /// their digits (Bitrix24 normalises them), e-mails case-insensitively.
    func findByComm(_ params: [String: JSONValue]) -> Outcome {
        guard let type = param(params, "type").flatMap(B24.text)?.uppercased(), ["PHONE", "EMAIL"].contains(type) else {
            return .fail(400, "", "Communication type is not defined or invalid.")
        }
        let values = (param(params, "values")?.b24Array ?? []).compactMap(B24.text)
        guard !values.isEmpty else { return .fail(400, "", "Communication values are not defined.") }
        guard values.count <= 20 else { return .fail(400, "", "Too many communication values (20 at most).") }
        let wanted = Set(values.map { Self.communicationKey(type: type, value: $0) })
        let only = param(params, "entity_type").flatMap(B24.text)?.uppercased()
        var found: [String: JSONValue] = [:]
        for entity in Self.communicationEntities where only == nil || only == entity.upper {
            let ids = communicationMatches(entity, type: type, keys: wanted).map { JSONValue.number(Double($0)) }
            if !ids.isEmpty { found[entity.upper] = .array(ids) }
        }
        return .ok(found.isEmpty ? .array([]) : .object(found))
    }
}
