import Foundation
import Mirror

/// English labels for the fields every account has (custom fields carry only the CRM's own label), and the
/// names of the mirror's tables in both languages.
enum DictionaryLabels {
    static func table(_ entity: String, crm: String) -> (ru: String, en: String) {
        switch entity {
        case "deal": ("Сделки", "Deals")
        case "lead" where crm == "amocrm": ("Сделки amoCRM (leads)", "amoCRM deals (leads)")
        case "lead": ("Лиды", "Leads")
        case "contact": ("Контакты", "Contacts")
        case "company": ("Компании", "Companies")
        case "status": ("Статусы и стадии", "Statuses and stages")
        case "category", "pipeline": ("Воронки", "Pipelines")
        case "user": ("Пользователи CRM", "CRM users")
        case "call": ("Звонки", "Calls")
        default: (entity, entity)
        }
    }

    /// The English label of a standard field or a mirror column, nil for custom fields.
    static func english(_ column: MirrorColumn) -> String? {
        if column.role == .label { return english(code: String(column.column.dropLast(6))).map { "\($0) (label)" } ?? "Label" }
        if column.role == .system { return system[column.column] }
        return english(code: column.crmField)
    }

    static func english(code: String) -> String? { fields[code.uppercased()] }

    static let system = [
        "id": "ID", "raw": "The record as the CRM sent it (JSON)", "modified_at": "Changed in the CRM", "synced_at": "Copied to the mirror",
        "deleted_at": "Deleted in the CRM",
    ]

    /// By field code, upper-cased (Bitrix24's `STAGE_ID`, amoCRM's `status_id`, the call log's `OUTCOME`).
    static let fields: [String: String] = [
        "ID": "ID", "TITLE": "Title", "NAME": "Name", "LAST_NAME": "Last name", "SECOND_NAME": "Middle name", "FIRST_NAME": "First name",
        "STAGE_ID": "Stage", "STATUS_ID": "Status", "CATEGORY_ID": "Pipeline", "OPPORTUNITY": "Amount", "CURRENCY_ID": "Currency",
        "ASSIGNED_BY_ID": "Responsible", "CREATED_BY_ID": "Created by", "MODIFY_BY_ID": "Changed by", "DATE_CREATE": "Created",
        "DATE_MODIFY": "Changed", "BEGINDATE": "Start date", "CLOSEDATE": "Close date", "CLOSED": "Closed", "OPENED": "Open to all",
        "COMPANY_ID": "Company", "CONTACT_ID": "Contact", "LEAD_ID": "Lead", "SOURCE_ID": "Source", "SOURCE_DESCRIPTION": "Source details",
        "COMMENTS": "Comments", "TYPE_ID": "Type", "PROBABILITY": "Probability", "IS_RETURN_CUSTOMER": "Returning customer",
        "ORIGINATOR_ID": "Origin system", "ORIGIN_ID": "Id in the origin system", "UTM_SOURCE": "UTM source", "UTM_MEDIUM": "UTM medium",
        "UTM_CAMPAIGN": "UTM campaign", "UTM_CONTENT": "UTM content", "UTM_TERM": "UTM term", "PHONE": "Phones", "EMAIL": "E-mails",
        "POST": "Position", "ADDRESS": "Address", "BIRTHDATE": "Birthday", "ENTITY_ID": "List", "SORT": "Sort order", "SEMANTICS": "Meaning",
        "ACTIVE": "Active", "WORK_POSITION": "Position", "UF_PHONE_INNER": "Extension", "ISDEFAULT": "Default",
        // amoCRM
        "PRICE": "Budget", "PIPELINE_ID": "Pipeline", "RESPONSIBLE_USER_ID": "Responsible", "GROUP_ID": "Group", "CREATED_BY": "Created by",
        "UPDATED_BY": "Changed by", "CREATED_AT": "Created", "UPDATED_AT": "Changed", "CLOSED_AT": "Closed", "CLOSEST_TASK_AT": "Next task",
        "LOSS_REASON_ID": "Loss reason", "IS_DELETED": "Deleted", "SCORE": "Score", "LABOR_COST": "Labour cost", "ACCOUNT_ID": "Account",
        "TAGS": "Tags", "CONTACT_IDS": "Contacts", "MAIN_CONTACT_ID": "Main contact", "INTERNAL_STATUS": "Internal stage (status map)",
        "IS_UNSORTED": "Unsorted", "IS_MAIN": "Main", "IS_UNSORTED_ON": "Unsorted enabled", "IS_ARCHIVE": "Archived", "TYPE": "Type",
        "COLOR": "Colour", "IS_EDITABLE": "Editable", "EMAIL_ADDRESS": "E-mail", "LANG": "Language", "IS_ACTIVE": "Active", "IS_ADMIN": "Administrator",
        // The call log
        "CALL_ID": "Call id", "EXTERNAL_ID": "PBX call id", "DIRECTION": "Direction", "CUSTOMER_PHONE": "Customer phone", "TRUNK": "Line",
        "EXTENSIONS": "Extensions", "ANSWERED_BY": "Answered by (extension)", "OUTCOME": "Outcome", "STARTED_AT": "Started",
        "ANSWERED_AT": "Answered", "ENDED_AT": "Ended", "DURATION": "Duration, s", "BILLSEC": "Talk time, s", "RECORDING_URL": "Recording",
        "BITRIX24_CALL_ID": "Bitrix24 CALL_ID", "CRM_ENTITY_TYPE": "CRM binding: type", "CRM_ENTITY_ID": "CRM binding: id",
    ]
}

/// Personal data in example values: phones, e-mails and people's names are shown masked, never whole.
enum DictionaryMasking {
    /// Fields that hold a person's name, phone or e-mail.
    static let personalFields: Set<String> = [
        "NAME", "LAST_NAME", "SECOND_NAME", "FIRST_NAME", "FULL_NAME", "PHONE", "EMAIL", "CUSTOMER_PHONE", "EMAIL_ADDRESS",
    ]

    static func isPersonal(_ column: MirrorColumn) -> Bool {
        let code = column.crmField.uppercased()
        if code == "NAME" { return ["contact", "user", "lead"].contains(column.entity) }  // a company's or pipeline's name is not a person's
        return personalFields.contains(code) || column.column.contains("phone") || column.column.contains("email")
    }

    /// The value as it may be shown: a phone keeps its first and last two digits, an e-mail its first
    /// letter and domain, a name its initials; anything that looks like a phone or e-mail is masked wherever it is.
    static func mask(_ value: String, personal: Bool) -> String {
        let digits = value.filter(\.isNumber)
        if value.contains("@"), let at = value.firstIndex(of: "@"), at > value.startIndex {
            return String(value[value.startIndex]) + "***" + value[at...]
        }
        if digits.count >= 7, value.allSatisfy({ $0.isNumber || " +-()".contains($0) }) {
            return (value.hasPrefix("+") ? "+" : "") + String(digits.prefix(1)) + String(repeating: "*", count: digits.count - 3) + String(digits.suffix(2))
        }
        guard personal else { return value }
        return value.split(separator: " ").map { word in word.first.map { "\($0)." } ?? "" }.joined(separator: " ")
    }
}
