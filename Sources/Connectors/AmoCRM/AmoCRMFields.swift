import Foundation
import SwitchboardCore

/// How amoCRM's records become mirror columns: the standard v4 fields with labels, custom fields typed by
/// their amoCRM type (`numeric` → decimal, `date` → date, `select` → enum id with its labels…), links to
/// contacts and companies, and phones/e-mails (`multitext` fields `PHONE`/`EMAIL`) as multi-fields.
public enum AmoCRMFields {
    /// The standard fields of a lead, contact or company.
    static func standard(_ kind: String) -> [CRMField] {
        var fields: [CRMField] = [
            CRMField(code: "id", label: "ID", crmType: "int", type: .integer),
            CRMField(code: "name", label: kind == "lead" ? "Название сделки" : "Название", crmType: "string", type: .text),
            CRMField(code: "responsible_user_id", label: "Ответственный", crmType: "int", type: .integer, reference: "user"),
            CRMField(code: "group_id", label: "Группа", crmType: "int", type: .integer),
            CRMField(code: "created_by", label: "Кем создано", crmType: "int", type: .integer, reference: "user"),
            CRMField(code: "updated_by", label: "Кем изменено", crmType: "int", type: .integer, reference: "user"),
            CRMField(code: "created_at", label: "Дата создания", crmType: "timestamp", type: .datetime),
            CRMField(code: "updated_at", label: "Дата изменения", crmType: "timestamp", type: .datetime),
            CRMField(code: "closest_task_at", label: "Ближайшая задача", crmType: "timestamp", type: .datetime),
            CRMField(code: "account_id", label: "Аккаунт", crmType: "int", type: .integer),
            CRMField(code: "tags", label: "Теги", crmType: "tags", type: .json),
        ]
        switch kind {
        case "lead":
            fields += [
                CRMField(code: "price", label: "Бюджет", crmType: "int", type: .decimal),
                CRMField(code: "status_id", label: "Этап", crmType: "status", type: .integer, reference: "status"),
                CRMField(code: "pipeline_id", label: "Воронка", crmType: "pipeline", type: .integer, reference: "pipeline"),
                CRMField(code: "loss_reason_id", label: "Причина отказа", crmType: "int", type: .integer),
                CRMField(code: "closed_at", label: "Дата закрытия", crmType: "timestamp", type: .datetime),
                CRMField(code: "is_deleted", label: "Удалена", crmType: "bool", type: .boolean),
                CRMField(code: "score", label: "Скоринг", crmType: "int", type: .integer),
                CRMField(code: "labor_cost", label: "Трудозатраты", crmType: "int", type: .integer),
                CRMField(code: "contact_ids", label: "Контакты", crmType: "links", type: .json, reference: "contact"),
                CRMField(code: "main_contact_id", label: "Основной контакт", crmType: "link", type: .integer, reference: "contact"),
                CRMField(code: "company_id", label: "Компания", crmType: "link", type: .integer, reference: "company"),
                CRMField(code: "internal_status", label: "Этап компании (status_map) / internal stage", crmType: "mapping", type: .text),
            ]
            fields += AmoCRMLeadMapping.utmNames.map { CRMField(code: $0, label: "UTM: \($0.dropFirst(4))", crmType: "utm", type: .text) }
        case "contact":
            fields += [
                CRMField(code: "first_name", label: "Имя", crmType: "string", type: .text),
                CRMField(code: "last_name", label: "Фамилия", crmType: "string", type: .text),
                CRMField(code: "is_unsorted", label: "Неразобранное", crmType: "bool", type: .boolean),
                CRMField(code: "company_id", label: "Компания", crmType: "link", type: .integer, reference: "company"),
            ]
        default: break
        }
        return fields
    }

    /// The fields of a reference list.
    static func reference(_ name: String) -> [CRMField] {
        switch name {
        case "pipeline":
            [
                CRMField(code: "id", label: "ID", crmType: "int", type: .integer),
                CRMField(code: "name", label: "Воронка", crmType: "string", type: .text),
                CRMField(code: "sort", label: "Сортировка", crmType: "int", type: .integer),
                CRMField(code: "is_main", label: "Основная", crmType: "bool", type: .boolean),
                CRMField(code: "is_unsorted_on", label: "Неразобранное включено", crmType: "bool", type: .boolean),
                CRMField(code: "is_archive", label: "В архиве", crmType: "bool", type: .boolean),
                CRMField(code: "account_id", label: "Аккаунт", crmType: "int", type: .integer),
            ]
        case "status":
            [
                CRMField(code: "id", label: "ID", crmType: "int", type: .integer),
                CRMField(code: "name", label: "Этап", crmType: "string", type: .text),
                CRMField(code: "sort", label: "Сортировка", crmType: "int", type: .integer),
                CRMField(code: "pipeline_id", label: "Воронка (пусто у 142/143 — они есть в каждой)", crmType: "pipeline", type: .integer, reference: "pipeline"),
                CRMField(code: "type", label: "Тип (1 — неразобранное)", crmType: "int", type: .integer),
                CRMField(code: "color", label: "Цвет", crmType: "string", type: .text),
                CRMField(code: "is_editable", label: "Можно изменить", crmType: "bool", type: .boolean),
                CRMField(code: "account_id", label: "Аккаунт", crmType: "int", type: .integer),
            ]
        default:
            [
                CRMField(code: "id", label: "ID", crmType: "int", type: .integer),
                CRMField(code: "name", label: "Имя", crmType: "string", type: .text),
                CRMField(code: "email", label: "E-mail", crmType: "string", type: .text),
                CRMField(code: "lang", label: "Язык", crmType: "string", type: .text),
                CRMField(code: "is_active", label: "Активен", crmType: "bool", type: .boolean),
                CRMField(code: "is_admin", label: "Администратор", crmType: "bool", type: .boolean),
            ]
        }
    }

    /// The mirror field of one custom field from `/api/v4/{entity}/custom_fields`.
    static func custom(_ definition: JSONValue) -> CRMField? {
        guard let object = definition.objectValue, let id = object["id"]?.intValue else { return nil }
        let type = object["type"]?.stringValue ?? "text"
        let code = object["code"]?.stringValue ?? ""
        let label = object["name"]?.stringValue ?? code
        var enums: [String: String] = [:]
        for item in object["enums"]?.arrayValue ?? [] {
            guard let item = item.objectValue, let enumID = item["id"]?.scalarText else { continue }
            enums[enumID] = item["value"]?.scalarText ?? enumID
        }
        let mirrorType: MirrorFieldType
        switch type {
        case "numeric", "monetary", "price": mirrorType = .decimal
        case "checkbox": mirrorType = .boolean
        case "date", "birthday": mirrorType = .date
        case "date_time": mirrorType = .datetime
        case "select", "radiobutton", "category": mirrorType = enums.isEmpty ? .text : .integer
        case "multiselect", "multitext", "items", "legal_entity", "smart_address", "chained_list", "file", "linked_entity", "tracking_data", "payer", "supplier":
            mirrorType = .json
        default: mirrorType = .text
        }
        let isMulti = type == "multitext"
        return CRMField(
            code: fieldCode(id: Int64(id), code: code, type: type), label: label, crmType: type, type: mirrorType,
            enumValues: isMulti ? [:] : enums, isMultiField: isMulti)
    }

    /// A custom field's key in mirror records: `PHONE`/`EMAIL` for the system multitext fields (the same in
    /// every account), `cf_<id>` for the rest (ids never change; names and codes can).
    static func fieldCode(id: Int64, code: String, type: String) -> String {
        type == "multitext" && (code == "PHONE" || code == "EMAIL") ? code : "cf_\(id)"
    }

    /// A v4 record's values with `_embedded` links and `custom_fields_values` made plain keys.
    static func flatten(_ object: [String: JSONValue]) -> [String: JSONValue] {
        var values = object
        values["_links"] = nil
        values["_embedded"] = nil
        values["custom_fields_values"] = nil
        let embedded = object["_embedded"]?.objectValue ?? [:]
        if let tags = embedded["tags"]?.arrayValue {
            values["tags"] = .array(tags.compactMap { $0.objectValue?["name"] })
        }
        if let companies = embedded["companies"]?.arrayValue {
            values["company_id"] = companies.first?.objectValue?["id"] ?? .null
        }
        if let contacts = embedded["contacts"]?.arrayValue {
            let ids = contacts.compactMap { $0.objectValue?["id"] }
            values["contact_ids"] = .array(ids)
            let main = contacts.first { $0.objectValue?["is_main"]?.boolValue == true } ?? contacts.first
            values["main_contact_id"] = main?.objectValue?["id"] ?? .null
        }
        for field in object["custom_fields_values"]?.arrayValue ?? [] {
            guard let field = field.objectValue, let id = field["field_id"]?.intValue else { continue }
            let type = field["field_type"]?.stringValue ?? "text"
            let items = field["values"]?.arrayValue ?? []
            let key = fieldCode(id: Int64(id), code: field["field_code"]?.stringValue ?? "", type: type)
            switch type {
            case "multitext":
                values[key] = .array(items.compactMap { item -> JSONValue? in
                    guard let item = item.objectValue else { return nil }
                    return ["value": item["value"] ?? .null, "enum_code": item["enum_code"] ?? .null]
                })
            case "select", "radiobutton", "category":
                let first = items.first?.objectValue
                values[key] = first?["enum_id"] ?? first?["value"] ?? .null
            case "multiselect":
                values[key] = .array(items.compactMap { $0.objectValue?["enum_id"] ?? $0.objectValue?["value"] })
            default:
                let plain = items.compactMap { $0.objectValue?["value"] }
                values[key] = plain.count == 1 ? plain[0] : .array(plain)
            }
        }
        return values
    }
}
