import Foundation
import SwitchboardCore

/// A tenant's reading of its amoCRM leads (seed 004): which pipeline statuses mean which of the company's
/// own stages (`new`, `contacted`, `presentation`… — configured per tenant and checked against the
/// account's real statuses, never hard-coded ids), and which custom fields hold the UTM tags.
///
/// Stored in the `amocrm` integration's settings: `status_map` `{"40166521": "contacted", …}` and
/// `utm_fields` `{"123458": "utm_source", …}` (a field id or a field code). Without `utm_fields`, the
/// fields amoCRM creates for tracking (codes `UTM_SOURCE`…) or named `utm_source`… are found by themselves.
public struct AmoCRMLeadMapping: Sendable, Equatable {
    /// The five UTM tags, in the order they are shown.
    public static let utmNames = ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"]
    /// Seed 004's stage names, offered as the default vocabulary (any lowercase name is accepted).
    public static let suggestedStages = ["new", "contacted", "presentation", "object_selected", "reserved", "deal", "completed"]

    /// amoCRM status id → the tenant's stage name.
    public var statuses: [Int64: String]
    /// Custom field id (as text) or field code → UTM tag name.
    public var utmFields: [String: String]

    public init(statuses: [Int64: String] = [:], utmFields: [String: String] = [:]) {
        self.statuses = statuses
        self.utmFields = utmFields
    }

    /// Reads `settings.status_map` and `settings.utm_fields`; a malformed entry is a 400 naming it.
    public init(settings: [String: JSONValue]) throws {
        var statuses: [Int64: String] = [:]
        if let map = settings["status_map"], map != .null {
            guard let object = map.objectValue else { throw SwitchboardError.invalid("settings.status_map", "must be an object of status id → stage name") }
            for (key, value) in object {
                guard let id = Int64(key), id > 0 else { throw SwitchboardError.invalid("settings.status_map.\(key)", "'\(key)' is not an amoCRM status id") }
                guard let name = value.stringValue, Self.isStageName(name) else {
                    throw SwitchboardError.invalid("settings.status_map.\(key)", "the stage name must be 1–40 lowercase letters, digits or _ (e.g. contacted)")
                }
                statuses[id] = name
            }
        }
        var utm: [String: String] = [:]
        if let map = settings["utm_fields"], map != .null {
            guard let object = map.objectValue else { throw SwitchboardError.invalid("settings.utm_fields", "must be an object of field id or code → utm tag") }
            for (key, value) in object {
                guard let tag = value.stringValue, Self.utmNames.contains(tag) else {
                    throw SwitchboardError.invalid("settings.utm_fields.\(key)", "must be one of \(Self.utmNames.joined(separator: ", "))")
                }
                guard !key.isEmpty, key.count <= 64 else { throw SwitchboardError.invalid("settings.utm_fields", "a field id or code is empty or too long") }
                utm[key] = tag
            }
        }
        self.init(statuses: statuses, utmFields: utm)
    }

    static func isStageName(_ name: String) -> Bool {
        (1...40).contains(name.count) && name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
    }

    /// The tenant's stage of a lead in `statusID`, when mapped.
    public func stage(statusID: Int64?) -> String? { statusID.flatMap { statuses[$0] } }

    /// The UTM tags a lead's custom fields carry (v4 `custom_fields_values`): by the configured field ids or
    /// codes; without configuration, by the tracking codes `UTM_SOURCE`… or a field named `utm_source`….
    public func utm(_ customFields: [JSONValue]) -> [String: String] {
        var tags: [String: String] = [:]
        for field in customFields {
            guard let object = field.objectValue, let value = object["values"]?.arrayValue?.first?.objectValue?["value"]?.scalarText, !value.isEmpty else {
                continue
            }
            let id = object["field_id"]?.scalarText ?? ""
            let code = object["field_code"]?.stringValue ?? ""
            let name = object["field_name"]?.stringValue ?? ""
            let tag: String?
            if !utmFields.isEmpty {
                tag = utmFields[id] ?? (code.isEmpty ? nil : utmFields[code])
            } else {
                tag = [code.lowercased(), name.lowercased()].first { Self.utmNames.contains($0) }
            }
            if let tag, tags[tag] == nil { tags[tag] = value }
        }
        return tags
    }
}
