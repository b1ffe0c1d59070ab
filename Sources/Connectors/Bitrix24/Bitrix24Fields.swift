import SwitchboardCore

/// Bitrix24's field metadata (`crm.*.fields`) turned into mirror fields.
public enum Bitrix24Fields {
    /// Maps the `result` of `crm.<entity>.fields`. `statuses` (STATUS_ID → name, per `statusType`) and
    /// `categories` (id → name) fill in the labels of stage and pipeline fields.
    public static func map(
        _ metadata: [String: JSONValue], statuses: [String: [String: String]] = [:], categories: [String: String] = [:]
    ) -> [CRMField] {
        metadata.keys.sorted().compactMap { code in
            guard let spec = metadata[code]?.objectValue else { return nil }
            let crmType = spec["type"]?.stringValue ?? "string"
            let multiple = spec["isMultiple"]?.boolValue ?? false
            var field = CRMField(code: code, label: label(code: code, spec), crmType: crmType, type: .text)
            switch crmType {
            case "crm_multifield":
                field.isMultiField = true
            case "integer":
                field.type = .integer
            case "double":
                field.type = .decimal
            case "char", "boolean":
                field.type = .boolean
            case "date":
                field.type = .date
            case "datetime":
                field.type = .datetime
            case "user", "employee":
                field.type = .integer
                field.reference = "user"
            case "crm_company", "crm_contact", "crm_lead", "crm_quote":
                field.type = .integer
                field.reference = String(crmType.dropFirst(4))
            case "crm_category":
                field.type = .integer
                field.reference = "category"
                field.enumValues = categories
            case "crm_status":
                let statusType = spec["statusType"]?.stringValue ?? ""
                field.reference = "status:" + statusType
                // Deal stages of every pipeline share one field: DEAL_STAGE, DEAL_STAGE_1, …
                for (type, names) in statuses where type == statusType || type.hasPrefix(statusType + "_") {
                    field.enumValues.merge(names) { first, _ in first }
                }
            case "enumeration":
                for item in spec["items"]?.arrayValue ?? [] {
                    if let id = item.objectValue?["ID"]?.stringValue, let value = item.objectValue?["VALUE"]?.stringValue {
                        field.enumValues[id] = value
                    }
                }
            default:
                break
            }
            // A multiple value (CONTACT_IDS, a multiple user field) is kept whole as a JSON list.
            if multiple && !field.isMultiField { field.type = .json }
            return field
        }
    }

    /// The user-facing label: user fields carry it in `listLabel`/`formLabel` (a string, or one per language).
    static func label(code: String, _ spec: [String: JSONValue]) -> String {
        for key in ["listLabel", "formLabel", "filterLabel"] {
            if let text = spec[key]?.stringValue, !text.isEmpty { return text }
            if let byLanguage = spec[key]?.objectValue, let text = (byLanguage["ru"] ?? byLanguage["en"] ?? byLanguage.values.first)?.stringValue,
                !text.isEmpty
            {
                return text
            }
        }
        return spec["title"]?.stringValue ?? code
    }
}
