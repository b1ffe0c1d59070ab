import Foundation
import SwitchboardCore

/// Reads: record lists, pipelines, custom fields, users — and the records the account starts with.
extension AmoCRMEmulator {
    func list(_ entity: String, _ query: [(String, String)], _ parameters: [String: String]) -> Answer {
        let limit = Int(parameters["limit"] ?? "50") ?? -1
        guard (1...250).contains(limit) else {
            return Self.validation(path: "limit", code: "InvalidValue", detail: "This value should be between 1 and 250.")
        }
        let page = Int(parameters["page"] ?? "1") ?? 0
        guard page >= 1 else { return Self.validation(path: "page", code: "InvalidValue", detail: "This value should be 1 or more.") }
        let with = Set((parameters["with"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let store = (with.contains("only_deleted") ? deleted[entity] : records[entity]) ?? [:]
        var ids: [Int]
        if with.contains("only_deleted") {
            ids = store.keys.sorted()
        } else if let cached = orderedIDs[entity] {
            ids = cached
        } else {
            ids = store.keys.sorted()
            orderedIDs[entity] = ids
        }
        // A plain page in id order needs only its own records.
        let filtered = query.contains { $0.0.hasPrefix("filter[") || $0.0 == "query" } || parameters["order[updated_at]"] != nil || parameters["order[id]"] == "desc"
        if !filtered {
            let start = min((page - 1) * limit, ids.count)
            ids = Array(ids[start..<min(start + limit + 1, ids.count)])
        }
        var rows = ids.compactMap { store[$0] }
        let wantedIDs = query.filter { $0.0 == "filter[id]" || $0.0.hasPrefix("filter[id][") }.map(\.1)
        if !wantedIDs.isEmpty {
            guard wantedIDs.allSatisfy({ Int($0) != nil }) else { return Self.validation(path: "filter.id", code: "InvalidType", detail: "This value should be of type int.") }
            let wanted = Set(wantedIDs.compactMap { Int($0) })
            rows = rows.filter { wanted.contains($0["id"]?.intValue ?? 0) }
        }
        for (key, value) in query where key.hasPrefix("filter[custom_fields_values][") {
            // `filter[custom_fields_values][<field id>][]=<value>`: records whose field holds the value.
            let fieldID = Int(key.dropFirst("filter[custom_fields_values][".count).prefix { $0.isNumber }) ?? 0
            rows = rows.filter { row in
                (row["custom_fields_values"]?.arrayValue ?? []).contains { field in
                    field.objectValue?["field_id"]?.intValue == fieldID
                        && (field.objectValue?["values"]?.arrayValue ?? []).contains { $0.objectValue?["value"]?.scalarText == value }
                }
            }
        }
        if let search = parameters["query"], !search.isEmpty {
            // amoCRM's search is loose: the text anywhere in the name or any field value, digits anywhere in a
            // phone — a caller must check what it found.
            let needle = search.lowercased()
            let digits = search.filter(\.isNumber)
            rows = rows.filter { row in
                if row["name"]?.stringValue?.lowercased().contains(needle) == true { return true }
                return (row["custom_fields_values"]?.arrayValue ?? []).contains { field in
                    (field.objectValue?["values"]?.arrayValue ?? []).contains { item in
                        let value = item.objectValue?["value"]?.scalarText ?? ""
                        return value.lowercased().contains(needle) || (digits.count >= 3 && value.filter(\.isNumber).contains(digits))
                    }
                }
            }
        }
        for (key, keep) in [("filter[updated_at][from]", { (a: Int, b: Int) in a >= b }), ("filter[updated_at][to]", { (a: Int, b: Int) in a <= b })] {
            guard let raw = parameters[key] else { continue }
            guard let bound = Int(raw) else { return Self.validation(path: key, code: "InvalidType", detail: "This value should be of type int.") }
            rows = rows.filter { keep($0["updated_at"]?.intValue ?? 0, bound) }
        }
        if let order = parameters["order[updated_at]"] {
            rows.sort { ($0["updated_at"]?.intValue ?? 0, $0["id"]?.intValue ?? 0) < ($1["updated_at"]?.intValue ?? 0, $1["id"]?.intValue ?? 0) }
            if order == "desc" { rows.reverse() }
        } else {
            rows.sort { ($0["id"]?.intValue ?? 0) < ($1["id"]?.intValue ?? 0) }
            if parameters["order[id]"] == "desc" { rows.reverse() }
        }
        // Unfiltered, `rows` is this page (and one more record, to know whether a next page exists).
        let start = filtered ? (page - 1) * limit : 0
        guard start < rows.count else { return Answer(status: 204, contentType: "", body: "") }
        let slice = rows[start..<min(start + limit, rows.count)].map { row -> JSONValue in
            var row = row
            // Links to contacts come only when asked for (`with=contacts`).
            if entity == "leads", !with.contains("contacts"), var embedded = row["_embedded"]?.objectValue {
                embedded["contacts"] = nil
                row["_embedded"] = .object(embedded)
            }
            return .object(row)
        }
        return Self.ok(self.page(of: slice, entity: entity, path: "/api/v4/\(entity)", parameters: parameters, page: page, hasNext: start + limit < rows.count))
    }

    /// A HAL page: `_page`, `_links.self/next/prev`, `_embedded.<name>`.
    func page(of rows: [JSONValue], entity: String, path: String, parameters: [String: String], page: Int, hasNext: Bool) -> JSONValue {
        func href(_ page: Int) -> JSONValue {
            var pairs = parameters.filter { $0.key != "page" }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            pairs.append(("page", String(page)))
            return ["href": .string("\(baseURL)\(path)?" + FormURLEncoding.encode(pairs))]
        }
        var links: [String: JSONValue] = ["self": href(page)]
        if hasNext { links["next"] = href(page + 1) }
        if page > 1 { links["prev"] = href(page - 1) }
        return ["_page": .number(Double(page)), "_links": .object(links), "_embedded": [entity: .array(rows)]]
    }

    /// The statuses of a pipeline: (id, name, type); 142 and 143 are amoCRM's won and lost in every pipeline.
    static func statuses(pipeline: Int) -> [(id: Int, name: String, type: Int)] {
        let own: [(Int, String, Int)] = pipeline == pipelineID
            ? [(40_166_518, "Неразобранное", 1), (40_166_521, "Первичный контакт", 0), (40_166_524, "Переговоры", 0), (40_166_527, "Принимают решение", 0)]
            : [(40_177_001, "Неразобранное", 1), (40_177_004, "Заявка с сайта", 0), (40_177_007, "Показ объекта", 0)]
        return own + [(142, "Успешно реализовано", 0), (143, "Закрыто и не реализовано", 0)]
    }

    /// Every status id a lead may have in `pipeline`.
    static func statusIDs(pipeline: Int) -> Set<Int> { Set(statuses(pipeline: pipeline).map(\.id)) }

    func pipelines() -> Answer {
        let pipelines: [JSONValue] = [(Self.pipelineID, "Воронка", true), (Self.secondPipelineID, "Недвижимость", false)].enumerated().map { index, item in
            let statuses: [JSONValue] = Self.statuses(pipeline: item.0).enumerated().map { sort, status in
                [
                    "id": .number(Double(status.id)), "name": .string(status.name), "sort": .number(Double(sort * 10 + 10)),
                    "is_editable": .bool(status.id != 142 && status.id != 143), "pipeline_id": .number(Double(item.0)),
                    "color": "#99ccff", "type": .number(Double(status.type)), "account_id": .number(Double(accountID)),
                ]
            }
            return [
                "id": .number(Double(item.0)), "name": .string(item.1), "sort": .number(Double(index + 1)), "is_main": .bool(item.2),
                "is_unsorted_on": true, "is_archive": false, "account_id": .number(Double(accountID)), "_embedded": ["statuses": .array(statuses)],
            ]
        }
        return Self.ok(["_total_items": 2, "_links": ["self": ["href": .string("\(baseURL)/api/v4/leads/pipelines")]], "_embedded": ["pipelines": .array(pipelines)]])
    }

    /// Custom fields of the entity: seed 004's ids (UTM 123458…123462, numbers 123463/123464, phone 123456,
    /// e-mail 123457), plus a date and a list field.
    static func customFieldDefinitions(_ entity: String) -> [JSONValue] {
        func field(_ id: Int, _ name: String, _ type: String, code: JSONValue = .null, enums: [JSONValue]? = nil) -> JSONValue {
            [
                "id": .number(Double(id)), "name": .string(name), "type": .string(type), "code": code, "sort": .number(Double(id % 1000)),
                "is_api_only": false, "entity_type": .string(entity), "is_deletable": true, "is_predefined": false, "is_visible": true,
                "enums": enums.map(JSONValue.array) ?? .null, "_links": ["self": ["href": .string("/api/v4/\(entity)/custom_fields/\(id)")]],
            ]
        }
        switch entity {
        case "leads":
            return [
                field(123_458, "UTM Source", "text", code: "UTM_SOURCE"), field(123_459, "UTM Medium", "text", code: "UTM_MEDIUM"),
                field(123_460, "UTM Campaign", "text", code: "UTM_CAMPAIGN"), field(123_461, "UTM Content", "text", code: "UTM_CONTENT"),
                field(123_462, "UTM Term", "text", code: "UTM_TERM"), field(123_463, "Стоимость объекта", "numeric"),
                field(123_464, "Комиссия", "numeric"), field(123_465, "Дата показа", "date"),
                field(123_466, "Тип объекта", "select", enums: [["id": 501, "value": "Квартира", "sort": 1], ["id": 502, "value": "Дом", "sort": 2], ["id": 503, "value": "Офис", "sort": 3]]),
            ]
        case "contacts":
            return [
                field(123_456, "Телефон", "multitext", code: "PHONE", enums: [["id": 301, "value": "WORK", "sort": 2], ["id": 303, "value": "MOB", "sort": 4]]),
                field(123_457, "Email", "multitext", code: "EMAIL", enums: [["id": 311, "value": "WORK", "sort": 2], ["id": 313, "value": "PRIV", "sort": 4]]),
            ]
        default:
            return [field(123_470, "Телефон", "multitext", code: "PHONE", enums: [["id": 321, "value": "WORK", "sort": 2]]), field(123_471, "ИНН", "text")]
        }
    }

    /// The entity's custom fields: the account's own and those added through the API.
    func definitions(_ entity: String) -> [JSONValue] { Self.customFieldDefinitions(entity) + (addedFields[entity] ?? []) }

    func addCustomFields(_ entity: String, _ body: String) -> Answer {
        guard let items = JSONValue(jsonText: body)?.arrayValue, !items.isEmpty else {
            return Self.validation(path: "", code: "InvalidType", detail: "The body must be a non-empty array of fields.")
        }
        var added: [JSONValue] = []
        for (index, item) in items.enumerated() {
            guard var field = item.objectValue, !(field["name"]?.stringValue ?? "").isEmpty else {
                return Self.validation(path: "\(index).name", code: "NotBlank", detail: "This value should not be blank.")
            }
            guard let type = field["type"]?.stringValue, ["text", "numeric", "checkbox", "select", "multiselect", "date", "url", "textarea"].contains(type) else {
                return Self.validation(path: "\(index).type", code: "NotSupportedChoice", detail: "The value you selected is not a valid choice.")
            }
            if let code = field["code"]?.stringValue, definitions(entity).contains(where: { $0.objectValue?["code"]?.stringValue == code }) {
                return Self.validation(path: "\(index).code", code: "NotUnique", detail: "This code is already used.")
            }
            let id = 900_000 + (addedFields.values.map(\.count).reduce(0, +)) + 1
            field["id"] = .number(Double(id))
            field["entity_type"] = .string(entity)
            field["enums"] = field["enums"] ?? .null
            addedFields[entity, default: []].append(.object(field))
            added.append(.object(field))
        }
        return Self.ok(["_embedded": ["custom_fields": .array(added)]])
    }

    func customFields(_ entity: String, _ parameters: [String: String]) -> Answer {
        let all = definitions(entity)
        let limit = min(max(Int(parameters["limit"] ?? "50") ?? 50, 1), 250)
        let page = max(Int(parameters["page"] ?? "1") ?? 1, 1)
        let start = (page - 1) * limit
        guard start < all.count else { return Answer(status: 204, contentType: "", body: "") }
        let slice = Array(all[start..<min(start + limit, all.count)])
        return Self.ok(self.page(of: slice, entity: "custom_fields", path: "/api/v4/\(entity)/custom_fields", parameters: parameters, page: page, hasNext: start + limit < all.count))
    }

    func users(_ parameters: [String: String]) -> Answer {
        let page = max(Int(parameters["page"] ?? "1") ?? 1, 1)
        guard page == 1 else { return Answer(status: 204, contentType: "", body: "") }
        let rows: [JSONValue] = Self.users.enumerated().map { index, user in
            [
                "id": .number(Double(user.id)), "name": .string(user.name), "email": .string("user\(index + 1)@sandbox.example"), "lang": "ru",
                "rights": ["is_active": true, "is_admin": .bool(index == 0)], "_links": ["self": ["href": .string("/api/v4/users/\(user.id)")]],
            ]
        }
        return Self.ok(self.page(of: rows, entity: "users", path: "/api/v4/users", parameters: parameters, page: 1, hasNext: false))
    }

    /// A record as amoCRM v4 returns it, the same for the same `(seed, id)`; leads link a contact and a company.
    static func generate(_ entity: String, id: Int, seed: UInt64, now: Int, contacts: Int, companies: Int) -> [String: JSONValue] {
        var random = SplitMix64(seed: seed &* 31 &+ UInt64(id) &* 7919 &+ UInt64(entity.utf8.count))
        let created = now - 60 * 86_400 + Int(random.next() % UInt64(50 * 86_400))
        let updated = created + Int(random.next() % UInt64(10 * 86_400))
        let user = users[Int(random.next() % UInt64(users.count))].id
        var embedded: [String: JSONValue] = ["tags": [], "companies": []]
        if entity != "companies", companies > 0 { embedded["companies"] = [["id": .number(Double((id - 1) % companies + 1))]] }
        var record: [String: JSONValue] = [
            "id": .number(Double(id)), "responsible_user_id": .number(Double(user)), "group_id": 0, "created_by": .number(Double(user)),
            "updated_by": .number(Double(user)), "created_at": .number(Double(created)), "updated_at": .number(Double(updated)),
            "closest_task_at": .null, "account_id": 29_175_955, "custom_fields_values": .null,
            "_links": ["self": ["href": .string("/api/v4/\(entity)/\(id)")]],
        ]
        switch entity {
        case "leads":
            let pipeline = id % 5 == 0 ? secondPipelineID : pipelineID
            let choices = statuses(pipeline: pipeline).dropFirst()
            let status = choices[choices.startIndex + Int(random.next() % UInt64(choices.count))]
            record["name"] = .string("Сделка #\(id)")
            record["price"] = .number(Double(1000 * (1 + Int(random.next() % 90))))
            record["status_id"] = .number(Double(status.id))
            record["pipeline_id"] = .number(Double(pipeline))
            record["loss_reason_id"] = .null
            record["closed_at"] = status.id == 142 || status.id == 143 ? .number(Double(updated)) : .null
            record["is_deleted"] = false
            record["score"] = .null
            record["labor_cost"] = .null
            let showing = (created / 86_400 + 3) * 86_400 - 3 * 3600  // midnight in Moscow, as amoCRM stores dates
            record["custom_fields_values"] = [
                ["field_id": 123_458, "field_name": "UTM Source", "field_code": "UTM_SOURCE", "field_type": "text",
                 "values": [["value": .string(["google", "yandex", "direct"][Int(random.next() % 3)])]]],
                ["field_id": 123_463, "field_name": "Стоимость объекта", "field_code": .null, "field_type": "numeric",
                 "values": [["value": .string(String(1_000_000 + Int(random.next() % 9_000_000)))]]],
                ["field_id": 123_465, "field_name": "Дата показа", "field_code": .null, "field_type": "date", "values": [["value": .number(Double(showing))]]],
                ["field_id": 123_466, "field_name": "Тип объекта", "field_code": .null, "field_type": "select",
                 "values": [["value": "Квартира", "enum_id": 501, "enum_code": .null]]],
            ]
            if contacts > 0 { embedded["contacts"] = [["id": .number(Double((id - 1) % contacts + 1)), "is_main": true]] }
        case "contacts":
            let first = ["Иван", "Мария", "Пётр", "Анна"][Int(random.next() % 4)]
            let last = ["Иванов", "Смирнова", "Петров", "Кузнецова"][Int(random.next() % 4)]
            record["name"] = .string("\(first) \(last)")
            record["first_name"] = .string(first)
            record["last_name"] = .string(last)
            record["is_unsorted"] = false
            record["custom_fields_values"] = [[
                "field_id": 123_456, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
                "values": [["value": .string("+7916\(String(format: "%07d", id))"), "enum_id": 301, "enum_code": "WORK"]],
            ]]
        default:
            record["name"] = .string("ООО «Компания \(id)»")
        }
        record["_embedded"] = .object(embedded)
        return record
    }
}
