import Bitrix24
import SwitchboardCore

/// Phones and e-mails → records, so `crm.duplicate.findbycomm` costs a lookup instead of a scan of every
/// record (a burst of 10k people asks it 10k times). Built on first use from every record, then kept up to
/// date by every add, update and delete.
extension Bitrix24Emulator {
    static let communicationEntities: [Bitrix24Entity] = [.lead, .contact, .company]

    /// The key Bitrix24 matches on: a phone's last 10 digits, an e-mail in lower case.
    static func communicationKey(type: String, value: String) -> String {
        type == "PHONE" ? String(value.filter(\.isNumber).suffix(10)) : value.lowercased()
    }

    /// `ENTITY:TYPE:key` of every phone and e-mail of a record.
    static func communicationKeys(_ entity: Bitrix24Entity, _ record: [String: JSONValue]) -> Set<String> {
        var keys: Set<String> = []
        for type in ["PHONE", "EMAIL"] {
            for item in record[type]?.b24Array ?? [] {
                guard let value = B24.text(item.objectValue?["VALUE"] ?? .null), !value.isEmpty else { continue }
                keys.insert("\(entity.upper):\(type):\(communicationKey(type: type, value: value))")
            }
        }
        return keys
    }

    /// Record ids of `entity` having `type` = one of `keys`.
    func communicationMatches(_ entity: Bitrix24Entity, type: String, keys: Set<String>) -> [Int] {
        if communicationIndex == nil {
            var index: [String: Set<Int>] = [:]
            for entity in Self.communicationEntities {
                for id in 1..<max(nextID[entity, default: 1], generatedCount(entity) + 1) where exists(entity, id) {
                    for key in Self.communicationKeys(entity, fullRecord(entity, id)) { index[key, default: []].insert(id) }
                }
            }
            communicationIndex = index
        }
        var ids: Set<Int> = []
        for key in keys { ids.formUnion(communicationIndex?["\(entity.upper):\(type):\(key)"] ?? []) }
        return ids.filter { exists(entity, $0) }.sorted()
    }

    /// Keeps the index in step after a record changed from `before` (nil: new) to its current state (gone: deleted).
    func reindexCommunications(_ entity: Bitrix24Entity, _ id: Int, before: [String: JSONValue]?) {
        guard communicationIndex != nil, Self.communicationEntities.contains(entity) else { return }
        let old = before.map { Self.communicationKeys(entity, $0) } ?? []
        let new = exists(entity, id) ? Self.communicationKeys(entity, fullRecord(entity, id)) : []
        for key in old.subtracting(new) { communicationIndex?[key]?.remove(id) }
        for key in new.subtracting(old) { communicationIndex?[key, default: []].insert(id) }
    }
}
