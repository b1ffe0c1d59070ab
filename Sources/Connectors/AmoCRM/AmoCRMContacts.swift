import Foundation
import SwitchboardCore

/// Finding a person's contact. amoCRM's `query` search is loose (the text anywhere in any field), so its
/// hits are only candidates: a contact counts when one of its phones ends in the same 10 digits or one of
/// its e-mails is the same address.
public enum AmoCRMContacts {
    /// The id of the contact with this phone or e-mail, if amoCRM has one.
    public static func find(_ client: AmoCRMClient, phone: String?, email: String?) async throws -> Int? {
        let digits = phone.map { String($0.filter(\.isNumber).suffix(10)) } ?? ""
        let address = email?.lowercased() ?? ""
        for search in [digits, address] where search.count >= 5 {
            let (rows, _) = try await client.page("/api/v4/contacts", embedded: "contacts", query: [("query", search), ("limit", "50")])
            for row in rows.compactMap(\.objectValue) where matches(row, digits: digits, email: address) {
                if let id = row["id"]?.intValue { return id }
            }
        }
        return nil
    }

    /// Whether the contact has the phone (same last 10 digits) or the e-mail (case-insensitive).
    static func matches(_ contact: [String: JSONValue], digits: String, email: String) -> Bool {
        for field in contact["custom_fields_values"]?.arrayValue ?? [] {
            let code = field.objectValue?["field_code"]?.stringValue
            for item in field.objectValue?["values"]?.arrayValue ?? [] {
                let value = item.objectValue?["value"]?.scalarText ?? ""
                if code == "PHONE", digits.count >= 7, String(value.filter(\.isNumber).suffix(10)) == digits { return true }
                if code == "EMAIL", !email.isEmpty, value.lowercased() == email { return true }
            }
        }
        return false
    }
}
