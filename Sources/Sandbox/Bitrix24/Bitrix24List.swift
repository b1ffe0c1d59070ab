import Bitrix24
import Foundation
import SwitchboardCore

/// `crm.{entity}.list`: select, filter prefixes, order, pages of 50 and the `start=-1` keyset mode.
extension Bitrix24Emulator {
    static let pageSize = 50

    /// One filter condition (`>=DATE_MODIFY: …`).
    struct Condition {
        enum Op { case eq, ne, gt, ge, lt, le, like, notLike }
        var op: Op
        var field: String
        var kind: Kind
        var texts: [String]
        var numbers: [Double?]
        var isList: Bool

        enum Kind { case time, number, text }
    }

    /// A record's value of a field, ready to compare.
    enum Cell {
        case null
        case time(Double)
        case text(String)
        case list([String])
    }

    static func kind(_ type: String) -> Condition.Kind {
        switch type {
        case "datetime", "date": .time
        case "integer", "double", "user", "crm_category", "crm_contact", "crm_company", "crm_lead": .number
        default: .text
        }
    }

    func parseFilter(_ entity: Bitrix24Entity, _ value: JSONValue?) -> Result<[Condition], Outcome> {
        let mustBeArray = Outcome.fail(400, "", "Parameter 'filter' must be array.")
        let object: [String: JSONValue]
        switch value {
        case nil, .null: return .success([])
        case .object(let members): object = members
        case .array(let items) where items.isEmpty: return .success([])
        case .string(let text) where text.isEmpty: return .success([])
        default: return .failure(mustBeArray)
        }
        let fields = Dictionary(schema(entity).map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        var conditions: [Condition] = []
        let prefixes: [(String, Condition.Op, Bool)] = [
            (">=", .ge, false), ("<=", .le, false), ("!=", .ne, false), ("!@", .ne, true), ("!%", .notLike, false),
            ("=%", .like, false), ("%=", .like, false), (">", .gt, false), ("<", .lt, false), ("@", .eq, true),
            ("!", .ne, false), ("=", .eq, false), ("%", .like, false),
        ]
        for (rawKey, raw) in object {
            var key = rawKey
            var op = Condition.Op.eq
            var needsList = false
            if let prefix = prefixes.first(where: { key.hasPrefix($0.0) }) {
                key = String(key.dropFirst(prefix.0.count))
                op = prefix.1
                needsList = prefix.2
            }
            key = key.uppercased()
            guard let field = fields[key] else { continue }  // Bitrix24 ignores keys it does not know
            let values: [JSONValue]
            switch raw {
            case .array(let items): values = items
            case .object(let members): values = Array(members.values)
            default:
                if needsList { return .failure(mustBeArray) }
                values = [raw]
            }
            let texts = values.map { B24.text($0) ?? "" }
            // An empty value for a comparison is dropped, so `>ID` = "" (an unresolved batch reference) matches every row.
            if texts.allSatisfy(\.isEmpty), [.gt, .ge, .lt, .le, .like, .notLike].contains(op) { continue }
            let kind = Self.kind(field.type)
            let numbers: [Double?] = texts.map { kind == .time ? B24.parseDate($0) : (kind == .number ? Double($0) : nil) }
            conditions.append(Condition(op: op, field: key, kind: kind, texts: texts, numbers: numbers, isList: values.count != 1 || needsList))
        }
        return .success(conditions)
    }

    /// A field of a record for filtering and sorting; untouched generated records are read from the cheap core.
    func cell(_ entity: Bitrix24Entity, _ id: Int, _ field: String, core: inout B24Generator.Core?, full: inout [String: JSONValue]?) -> Cell {
        if field == "ID" { return .text(String(id)) }
        let patched = patches[entity]?[id] != nil
        if !patched, id <= generatedCount(entity) {
            if core == nil { core = generator.core(entity, id) }
            let c = core!
            switch field {
            case "DATE_CREATE": return .time(c.created)
            case "DATE_MODIFY": return .time(c.modified)
            case "ASSIGNED_BY_ID": return .text(String(c.assigned))
            case "SOURCE_ID": return .text(c.source)
            case "CATEGORY_ID" where entity == .deal: return .text(String(c.category))
            case "STAGE_ID" where entity == .deal: return .text(c.stage)
            case "STATUS_ID" where entity == .lead: return .text(c.status)
            default: break
            }
        }
        if full == nil { full = fullRecord(entity, id) }
        switch full![field] {
        case .array(let items)?: return .list(items.compactMap { B24.text($0.objectValue?["VALUE"] ?? $0) })
        case let value?:
            guard let text = B24.text(value), !text.isEmpty else { return .null }
            if field.hasPrefix("DATE_") || field == "BEGINDATE" || field == "CLOSEDATE" || field == "BIRTHDATE", let time = B24.parseDate(text) {
                return .time(time)
            }
            return .text(text)
        case nil: return .null
        }
    }

    func matches(_ condition: Condition, _ cell: Cell) -> Bool {
        func compare(_ value: String, _ time: Double?) -> [Bool] {
            // One comparison per filter value.
            condition.texts.indices.map { index in
                let target = condition.texts[index]
                let ordering: Int?
                switch condition.kind {
                case .time, .number:
                    let left = condition.kind == .time ? time ?? B24.parseDate(value) : Double(value)
                    guard let left, let right = condition.numbers[index] else { ordering = nil; break }
                    ordering = left < right ? -1 : (left > right ? 1 : 0)
                case .text:
                    let a = value.lowercased(), b = target.lowercased()
                    ordering = a < b ? -1 : (a > b ? 1 : 0)
                }
                switch condition.op {
                case .eq: return ordering == 0
                case .ne: return ordering != 0
                case .gt: return ordering.map { $0 > 0 } ?? false
                case .ge: return ordering.map { $0 >= 0 } ?? false
                case .lt: return ordering.map { $0 < 0 } ?? false
                case .le: return ordering.map { $0 <= 0 } ?? false
                case .like: return value.lowercased().contains(target.lowercased())
                case .notLike: return !value.lowercased().contains(target.lowercased())
                }
            }
        }
        let empty = condition.texts.count == 1 && condition.texts[0].isEmpty
        switch cell {
        case .null:
            if empty { return condition.op == .eq }
            return condition.op == .ne || condition.op == .notLike
        case .time(let time):
            if empty { return condition.op == .ne }
            let results = compare("", time)
            return condition.op == .ne || condition.op == .notLike ? results.allSatisfy { $0 } : results.contains(true)
        case .text(let text):
            if empty { return condition.op == .ne }
            let results = compare(text, nil)
            return condition.op == .ne || condition.op == .notLike ? results.allSatisfy { $0 } : results.contains(true)
        case .list(let items):
            if empty { return condition.op == .eq ? items.isEmpty : !items.isEmpty }
            let any = items.contains { item in compare(item, nil).contains(true) }
            return condition.op == .ne || condition.op == .notLike ? !items.contains { compare($0, nil).contains(false) } : any
        }
    }

    /// The ids a filter on `ID` allows, as a range or a set.
    private func idBounds(_ conditions: [Condition], maxID: Int) -> (ClosedRange<Int>, Set<Int>?) {
        var low = 1, high = maxID
        var only: Set<Int>?
        for condition in conditions where condition.field == "ID" {
            let numbers = condition.numbers.compactMap { $0 }
            guard let first = numbers.first else { continue }
            switch condition.op {
            case .gt where numbers.count == 1: low = max(low, Int(first.rounded(.down)) + 1)
            case .ge where numbers.count == 1: low = max(low, Int(first.rounded(.up)))
            case .lt where numbers.count == 1: high = min(high, Int(first.rounded(.up)) - 1)
            case .le where numbers.count == 1: high = min(high, Int(first.rounded(.down)))
            case .eq:
                let set = Set(numbers.filter { $0.rounded() == $0 }.map { Int($0) })
                only = only.map { $0.intersection(set) } ?? set
            default: break
            }
        }
        // Nothing can match (e.g. `>ID` of the last id): an empty set, not an inverted range.
        guard low <= high else { return (1...1, []) }
        return (low...high, only)
    }

    func list(_ entity: Bitrix24Entity, _ params: [String: JSONValue]) -> Outcome {
        let conditions: [Condition]
        switch parseFilter(entity, param(params, "filter")) {
        case .success(let value): conditions = value
        case .failure(let outcome): return outcome
        }
        // Order: the first key counts; ID ascending by default and as the tie-breaker.
        var orderField = "ID", descending = false
        if let order = param(params, "order")?.objectValue, let first = order.sorted(by: { $0.key < $1.key }).first {
            orderField = first.key.uppercased()
            descending = (B24.text(first.value) ?? "ASC").uppercased() == "DESC"
        }
        let start = param(params, "start").flatMap { $0.intValue ?? Int(B24.text($0) ?? "") } ?? 0
        let noCount = start < 0
        let offset = max(start, 0)

        let (range, only) = idBounds(conditions, maxID: maxID(entity))
        let others = conditions
        var examined = 0
        defer { lastListExamined = examined }
        func accept(_ id: Int, _ core: inout B24Generator.Core?, _ full: inout [String: JSONValue]?) -> Bool {
            examined += 1
            guard exists(entity, id) else { return false }
            return others.allSatisfy { matches($0, cell(entity, id, $0.field, core: &core, full: &full)) }
        }
        var ids: [Int] = []
        var total = 0
        if orderField == "ID" {
            let sequence: AnySequence<Int> = only.map { set in AnySequence(set.filter { range.contains($0) }.sorted(by: descending ? (>) : (<))) }
                ?? (descending ? AnySequence(range.reversed()) : AnySequence(range))
            for id in sequence {
                var core: B24Generator.Core? = nil
                var full: [String: JSONValue]? = nil
                guard accept(id, &core, &full) else { continue }
                if total >= offset && ids.count < Self.pageSize { ids.append(id) }
                total += 1
                if noCount && ids.count == Self.pageSize { break }  // no COUNT: stop at one page
            }
        } else {
            var keyed: [(Cell, Int)] = []
            let sequence: AnySequence<Int> = only.map { AnySequence($0.filter { range.contains($0) }.sorted()) } ?? AnySequence(range)
            for id in sequence {
                var core: B24Generator.Core? = nil
                var full: [String: JSONValue]? = nil
                guard accept(id, &core, &full) else { continue }
                keyed.append((cell(entity, id, orderField, core: &core, full: &full), id))
            }
            func less(_ a: (Cell, Int), _ b: (Cell, Int)) -> Bool {
                switch (a.0, b.0) {
                case (.time(let x), .time(let y)) where x != y: return descending ? x > y : x < y
                case (.text(let x), .text(let y)) where x != y:
                    if let dx = Double(x), let dy = Double(y), dx != dy { return descending ? dx > dy : dx < dy }
                    return descending ? x > y : x < y
                case (.null, .time), (.null, .text): return !descending
                case (.time, .null), (.text, .null): return descending
                default: return a.1 < b.1
                }
            }
            keyed.sort(by: less)
            total = keyed.count
            ids = Array(keyed.dropFirst(offset).prefix(Self.pageSize).map(\.1))
        }
        let select = selection(entity, param(params, "select"))
        let rows = ids.map { outputRecord(entity, $0, keep: select) }
        if noCount { return .ok(.array(rows), total: 0) }
        let next = offset + Self.pageSize < total ? offset + Self.pageSize : nil
        return .ok(.array(rows), total: total, next: next)
    }

    /// Which fields a `select` keeps: `*` all standard single fields, `UF_*` all user fields,
    /// multi-fields only by name; nothing given = `*` + `UF_*`; `ID` always.
    func selection(_ entity: Bitrix24Entity, _ value: JSONValue?) -> (Bitrix24Field) -> Bool {
        var names: [String] = []
        switch value {
        case .array(let items)?: names = items.compactMap { B24.text($0)?.uppercased() }
        case .object(let members)?: names = members.values.compactMap { B24.text($0)?.uppercased() }
        case .string(let text)? where !text.isEmpty: names = [text.uppercased()]
        default: break
        }
        if names.isEmpty { names = ["*", "UF_*"] }
        let all = names.contains("*"), allUF = names.contains("UF_*")
        let named = Set(names)
        return { field in
            if named.contains(field.code) { return true }
            if field.isDynamic { return allUF }
            return all && !field.isMultiple
        }
    }
}
