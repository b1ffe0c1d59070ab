import SwitchboardCore

/// The CRM entities Switchboard mirrors and listens to, with their REST and event names.
public enum Bitrix24Entity: String, Sendable, CaseIterable, Codable {
    case deal, contact, lead, company

    /// The method prefix: `crm.deal`.
    public var methodPrefix: String { "crm.\(rawValue)" }
    /// `crm.item.*` entity type id (lead 1, deal 2, contact 3, company 4).
    public var entityTypeID: Int {
        switch self {
        case .lead: 1
        case .deal: 2
        case .contact: 3
        case .company: 4
        }
    }
    /// The mirror table.
    public var table: String { self == .company ? "bitrix24_companies" : "bitrix24_\(rawValue)s" }
    /// Event names for add / update / delete: `ONCRMDEALADD`…
    public var events: [String] { ["ADD", "UPDATE", "DELETE"].map { "ONCRM\(rawValue.uppercased())\($0)" } }
    /// Multi-fields this entity has (deals have none): they are only returned when selected by name.
    public var multiFields: [String] { self == .deal ? [] : ["PHONE", "EMAIL", "WEB", "IM"] }

    /// The entity and change an event name stands for (`ONCRMDEALUPDATE` → deal, update).
    public static func parse(event: String) -> (entity: Bitrix24Entity, change: String)? {
        let name = event.uppercased()
        for entity in allCases {
            for change in ["ADD", "UPDATE", "DELETE"] where name == "ONCRM\(entity.rawValue.uppercased())\(change)" {
                return (entity, change.lowercased())
            }
        }
        return nil
    }
}
