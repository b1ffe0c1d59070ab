import Bitrix24
import Foundation
import SwitchboardCore

/// `crm.*.fields`, `crm.status.list`, `crm.category.list` and `user.get` of the Bitrix24 emulator.
extension Bitrix24Emulator {
    func fieldsMetadata(_ entity: Bitrix24Entity) -> JSONValue {
        var result: [String: JSONValue] = [:]
        for field in schema(entity) { result[field.code] = field.metadata }
        return .object(result)
    }

    func statusList(_ params: [String: JSONValue]) -> Outcome {
        var filter: [String: JSONValue] = [:]
        switch param(params, "filter") {
        case nil, .null: break
        case .object(let object)?: filter = object
        case .array(let items)? where items.isEmpty: break
        default: return .fail(400, "", "Parameter 'filter' must be array.")
        }
        let entityFilter = filter.first { $0.key.uppercased() == "ENTITY_ID" }.flatMap { B24.text($0.value) }
        let rows = B24Catalog.statuses.enumerated().filter { entityFilter == nil || $0.element.entityID == entityFilter }
        return .ok(.array(rows.map { index, row in
            var object: [String: JSONValue] = [
                "ID": .string(String(index + 1)), "ENTITY_ID": .string(row.entityID), "STATUS_ID": .string(row.statusID),
                "NAME": .string(row.name), "NAME_INIT": row.system ? .string(row.name) : "", "SORT": .string(String(row.sort)),
                "SYSTEM": row.system ? "Y" : "N", "CATEGORY_ID": row.categoryID.map { .string(String($0)) } ?? .null,
                "COLOR": row.color.map(JSONValue.string) ?? .null, "SEMANTICS": row.semantics.map(JSONValue.string) ?? .null,
            ]
            if row.color != nil {
                let word = row.semantics == "S" ? "success" : row.semantics == "F" ? "failure" : "process"
                object["EXTRA"] = ["SEMANTICS": .string(word), "COLOR": .string(row.color!)]
            }
            return .object(object)
        }), total: rows.count)
    }

    func categoryList(_ params: [String: JSONValue]) -> Outcome {
        guard let type = param(params, "entityTypeId")?.intValue else { return .fail(400, "", "entityTypeId is required") }
        let all = type == 2 ? B24Catalog.categories : []
        let start = max(param(params, "start")?.intValue ?? 0, 0)
        let page = all.dropFirst(start).prefix(Self.pageSize)
        let categories: [JSONValue] = page.map { category in
            ["id": .number(Double(category.id)), "name": .string(category.name), "sort": .number(Double(category.sort)),
             "entityTypeId": .number(Double(type)), "isDefault": category.id == 0 ? "Y" : "N"]
        }
        let next = start + Self.pageSize < all.count ? start + Self.pageSize : nil
        return .ok(["categories": .array(categories)], total: all.count, next: next)
    }

    func userGet(_ params: [String: JSONValue]) -> Outcome {
        // user.get takes its filter as FILTER or as top-level keys.
        var filter = param(params, "filter")?.objectValue ?? [:]
        for key in ["ID", "UF_PHONE_INNER", "ACTIVE", "EMAIL"] {
            if let value = param(params, key) { filter[key] = value }
        }
        let users = B24Catalog.users.filter { user in
            filter.allSatisfy { key, value in
                let wanted = (value.b24Array ?? [value]).compactMap(B24.text)
                switch key.uppercased() {
                case "ID": return wanted.contains(String(user.id))
                case "UF_PHONE_INNER": return wanted.contains(user.inner)
                case "EMAIL": return wanted.contains(user.email)
                case "ACTIVE": return wanted.contains { ["Y", "1", "true"].contains($0) }
                default: return true
                }
            }
        }
        let start = max(param(params, "start")?.intValue ?? 0, 0)
        let page = users.dropFirst(start).prefix(Self.pageSize)
        let rows: [JSONValue] = page.map { user in
            ["ID": .string(String(user.id)), "ACTIVE": true, "NAME": .string(user.name), "LAST_NAME": .string(user.lastName),
             "SECOND_NAME": "", "EMAIL": .string(user.email), "WORK_POSITION": .string(user.position),
             "UF_PHONE_INNER": .string(user.inner), "UF_DEPARTMENT": [1], "IS_ONLINE": "N", "USER_TYPE": "employee",
             "TIME_ZONE": "", "PERSONAL_MOBILE": ""]
        }
        let next = start + Self.pageSize < users.count ? start + Self.pageSize : nil
        return .ok(.array(rows), total: users.count, next: next)
    }
}
