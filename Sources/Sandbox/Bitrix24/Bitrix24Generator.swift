import Bitrix24
import Foundation
import SwitchboardCore

/// Generates the emulator's seeded records on demand from (seed, entity, id): nothing is materialised,
/// so a portal of 100k deals costs no memory until records are changed.
struct B24Generator: Sendable {
    let seed: UInt64
    /// "Now" for generated data: every generated record was created and modified in the two years before it.
    let anchor: Double
    let counts: [Bitrix24Entity: Int]
    static let span = 730.0 * 86400

    /// The cheap part of a record: what lists filter and sort on.
    struct Core {
        var created: Double
        var modified: Double
        var category: Int
        var stage: String
        var assigned: Int
        var source: String
        var status: String
    }

    func rng(_ entity: Bitrix24Entity, _ id: Int, stream: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (entity.salt &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(id) &* 0xD1B5_4A32_D192_ED03) ^ (stream &* 0x94D0_49BB_1331_11EB))
        return SplitMix64(seed: mixer.next())
    }

    static func unit(_ rng: inout SplitMix64) -> Double { Double(rng.next() >> 11) / 9_007_199_254_740_992 }
    static func pick<T>(_ list: [T], _ rng: inout SplitMix64) -> T { list[Int(rng.next() % UInt64(list.count))] }

    func core(_ entity: Bitrix24Entity, _ id: Int) -> Core {
        var r = rng(entity, id, stream: 0)
        let n = Double(max(counts[entity] ?? 1, 1))
        let slot = Self.span / n
        let start = anchor - Self.span - 3600
        let created = (start + (Double(id - 1) + Self.unit(&r)) * slot).rounded(.down)
        let touched = Self.unit(&r) >= 0.3
        let fraction = Self.unit(&r)
        let modified = touched ? (created + (anchor - 3600 - created) * fraction * fraction).rounded(.down) : created
        let category = Self.unit(&r) < 0.25 ? 1 : 0
        let stages = B24Catalog.stages(category: category)
        // Most deals are still open; about a fifth won or lost.
        let roll = Self.unit(&r)
        let stage = roll < 0.12 ? stages[stages.count - 2] : roll < 0.2 ? stages[stages.count - 1] : stages[Int(r.next() % UInt64(stages.count - 2))]
        let assigned = 1 + Int(r.next() % UInt64(B24Catalog.users.count))
        let source = Self.pick(B24Catalog.sourceIDs, &r)
        let status = Self.pick(B24Catalog.leadStatusIDs, &r)
        return Core(created: created, modified: modified, category: category, stage: stage, assigned: assigned, source: source, status: status)
    }

    // MARK: values

    static let maleFirst = ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил", "Никита", "Роман"]
    static let femaleFirst = ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Екатерина", "Татьяна", "Ирина", "Светлана", "Юлия"]
    static let lastNames = [("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"), ("Попов", "popov"), ("Васильев", "vasiliev"),
                            ("Петров", "petrov"), ("Соколов", "sokolov"), ("Михайлов", "mikhailov"), ("Новиков", "novikov"),
                            ("Фёдоров", "fedorov"), ("Морозов", "morozov"), ("Волков", "volkov"), ("Лебедев", "lebedev"), ("Егоров", "egorov")]
    static let middle = ["Александров", "Сергеев", "Иванов", "Петров", "Николаев", "Андреев"]
    static let companyNames = ["Альфа-Трейд", "СтройИнвест", "Вектор", "ТехноПарк", "Сибирь-Логистик", "Мегаполис", "Уральские самоцветы",
                               "ГлавСнаб", "Нева-Маркет", "Волга-Агро", "Северный ветер", "Промсервис"]
    static let dealTitles = ["Поставка оборудования", "Договор на обслуживание", "Продажа лицензий", "Монтаж видеонаблюдения",
                             "Оптовая поставка", "Разработка сайта", "Аренда спецтехники", "Комплексное оснащение офиса"]
    static let leadTitles = ["Заявка с сайта", "Входящий звонок", "Запрос коммерческого предложения", "Обратный звонок", "Заявка с выставки"]
    static let cities = ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань", "Нижний Новгород", "Самара", "Краснодар"]
    static let streets = ["ул. Ленина", "пр-т Мира", "ул. Садовая", "Невский пр-т", "ул. Гагарина", "ул. Советская"]
    static let comments = ["Перезвонить после обеда", "VIP-клиент", "Просит счёт на почту", "Договорились о встрече", "Нужна доставка до двери"]
    static let operators = ["916", "903", "926", "985", "999", "912", "921", "905", "977", "495", "812"]
    static let mailDomains = ["mail.ru", "yandex.ru", "gmail.com", "bk.ru", "inbox.ru"]

    private struct Person { var first: String; var second: String; var last: String; var latin: String }

    private func person(_ r: inout SplitMix64) -> Person {
        let female = Self.unit(&r) < 0.45
        let (last, latin) = Self.pick(Self.lastNames, &r)
        let mid = Self.pick(Self.middle, &r)
        return female
            ? Person(first: Self.pick(Self.femaleFirst, &r), second: mid + "на", last: last + "а", latin: latin + "a")
            : Person(first: Self.pick(Self.maleFirst, &r), second: mid + "ич", last: last, latin: latin)
    }

    private func companyTitle(_ r: inout SplitMix64) -> String {
        Self.pick(["ООО", "АО", "ИП", "ПАО", "ООО"], &r) + " «" + Self.pick(Self.companyNames, &r) + "»"
    }

    static func multiBase(_ entity: Bitrix24Entity) -> Int {
        switch entity {
        case .deal: 0
        case .contact: 0
        case .lead: 100_000_000
        case .company: 200_000_000
        }
    }

    /// Phone numbers of a record in the mixed spellings real portals hold.
    func phones(_ entity: Bitrix24Entity, _ id: Int) -> [JSONValue] {
        guard entity.hasMultifields else { return [] }
        var r = rng(entity, id, stream: 1)
        let count = Self.unit(&r) < 0.1 ? 0 : (Self.unit(&r) < 0.8 ? 1 : 2)
        return (0..<count).map { k in
            let code = Self.pick(Self.operators, &r)
            let digits = String(String(10_000_000 + r.next() % 10_000_000).dropFirst())
            let (a, b, c) = (digits.prefix(3), digits.dropFirst(3).prefix(2), digits.suffix(2))
            let value: String
            switch r.next() % 5 {
            case 0: value = "+7 \(code) \(a)-\(b)-\(c)"
            case 1: value = "8 (\(code)) \(a)-\(b)-\(c)"
            case 2: value = "+7\(code)\(digits)"
            case 3: value = "8\(code)\(digits)"
            default: value = "7-\(code)-\(a)-\(b)-\(c)"
            }
            let type = code.hasPrefix("9") ? (k == 0 ? "MOBILE" : "WORK") : "WORK"
            return Self.multi(id: Self.multiBase(entity) + id * 8 + k, type: "PHONE", valueType: type, value: value)
        }
    }

    static func multi(id: Int, type: String, valueType: String, value: String) -> JSONValue {
        ["ID": .string(String(id)), "VALUE_TYPE": .string(valueType), "VALUE": .string(value), "TYPE_ID": .string(type)]
    }

    static func dateOnly(_ time: Double) -> String {
        // Bitrix24 prints `date` fields as local midnight with the offset.
        let day = ((time + Double(B24.offsetSeconds)) / 86400).rounded(.down) * 86400 - Double(B24.offsetSeconds)
        return B24.iso(day)
    }

    /// A user field's value for a record; it depends on the field's code and current type only.
    func userFieldValue(_ field: Bitrix24Field, _ entity: Bitrix24Entity, _ id: Int, created: Double) -> JSONValue {
        var r = rng(entity, id, stream: B24.stableHash(field.code))
        if Self.unit(&r) < 0.15 { return field.type == "boolean" ? "0" : .null }
        switch field.type {
        case "string": return .string(Self.pick(Self.comments, &r))
        case "enumeration": return field.items.isEmpty ? .null : .string(Self.pick(field.items, &r).id)
        case "boolean": return r.next() % 2 == 0 ? "1" : "0"
        case "double": return .string(B24.text(.number(Double(r.next() % 12) * 2.5))!)
        case "integer": return .string(String(r.next() % 1000))
        case "date": return .string(Self.dateOnly(created + Double(r.next() % 60) * 86400))
        case "datetime": return .string(B24.iso(created + Double(r.next() % (60 * 86400))))
        case "money": return .string("\(1000 + r.next() % 90000)|RUB")
        case "url": return .string("https://\(Self.pick(["shop", "promo", "lk"], &r)).example.ru/\(id)")
        default: return .null
        }
    }

    /// The whole generated record of `id` (every standard field, multi-fields, and the given user fields).
    func record(_ entity: Bitrix24Entity, _ id: Int, userFields: [Bitrix24Field]) -> [String: JSONValue] {
        let c = core(entity, id)
        var r = rng(entity, id, stream: 2)
        var o: [String: JSONValue] = ["ID": .string(String(id))]
        func s(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        let contacts = counts[.contact] ?? 0, companies = counts[.company] ?? 0
        o["ASSIGNED_BY_ID"] = s(String(c.assigned))
        o["CREATED_BY_ID"] = s(String(Self.unit(&r) < 0.7 ? c.assigned : 1))
        o["MODIFY_BY_ID"] = s(String(c.modified == c.created ? Int(o["CREATED_BY_ID"]!.stringValue!)! : 1 + Int(r.next() % 8)))
        o["DATE_CREATE"] = s(B24.iso(c.created))
        o["DATE_MODIFY"] = s(B24.iso(c.modified))
        o["OPENED"] = "Y"
        o["COMMENTS"] = Self.unit(&r) < 0.7 ? .null : s(Self.pick(Self.comments, &r))
        o["SOURCE_ID"] = s(c.source)
        o["SOURCE_DESCRIPTION"] = Self.unit(&r) < 0.8 ? .null : "Звонок с рекламы в Яндекс.Директ"
        let ads = Self.unit(&r) < 0.4
        o["UTM_SOURCE"] = ads ? s(Self.pick(["yandex", "google", "vk", "telegram"], &r)) : .null
        o["UTM_MEDIUM"] = ads ? s(Self.pick(["cpc", "social", "email"], &r)) : .null
        o["UTM_CAMPAIGN"] = ads ? s(Self.pick(["spring_sale_2024", "brand", "retargeting", "black_friday"], &r)) : .null
        o["UTM_CONTENT"] = ads ? s(Self.pick(["banner_1", "text_a", "video"], &r)) : .null
        o["UTM_TERM"] = ads ? s(Self.pick(["купить оборудование", "доставка", "цена"], &r)) : .null
        let money = String(format: "%.2f", Double(100_000 + r.next() % 49_900_000) / 100)
        switch entity {
        case .deal:
            let stages = B24Catalog.statuses(c.category == 0 ? "DEAL_STAGE" : "DEAL_STAGE_\(c.category)")
            let semantics = stages.first { $0.statusID == c.stage }?.semantics
            o["TITLE"] = s("\(Self.pick(Self.dealTitles, &r)) №\(id)")
            o["TYPE_ID"] = s(Self.pick(B24Catalog.statuses("DEAL_TYPE").map(\.statusID), &r))
            o["CATEGORY_ID"] = s(String(c.category))
            o["STAGE_ID"] = s(c.stage)
            o["STAGE_SEMANTIC_ID"] = s(semantics ?? "P")
            o["IS_NEW"] = c.stage == stages[0].statusID ? "Y" : "N"
            o["PROBABILITY"] = Self.unit(&r) < 0.5 ? .null : s(String(10 * (1 + r.next() % 9)))
            o["CURRENCY_ID"] = "RUB"
            o["OPPORTUNITY"] = s(money)
            o["IS_MANUAL_OPPORTUNITY"] = r.next() % 3 == 0 ? "Y" : "N"
            o["COMPANY_ID"] = companies > 0 && Self.unit(&r) < 0.6 ? s(String(1 + Int(r.next() % UInt64(companies)))) : "0"
            o["CONTACT_ID"] = contacts > 0 && Self.unit(&r) < 0.9 ? s(String(1 + Int(r.next() % UInt64(contacts)))) : .null
            o["BEGINDATE"] = s(Self.dateOnly(c.created))
            o["CLOSEDATE"] = s(Self.dateOnly(c.created + Double(7 + r.next() % 60) * 86400))
            o["CLOSED"] = semantics == nil ? "N" : "Y"
            o["LEAD_ID"] = .null
        case .contact:
            let p = person(&r)
            o["HONORIFIC"] = .null
            o["NAME"] = s(p.first)
            o["SECOND_NAME"] = Self.unit(&r) < 0.5 ? s(p.second) : ""
            o["LAST_NAME"] = s(p.last)
            o["BIRTHDATE"] = Self.unit(&r) < 0.7 ? "" : s(Self.dateOnly(c.created - Double(20 * 365 + r.next() % (30 * 365)) * 86400))
            o["TYPE_ID"] = s(Self.pick(B24Catalog.statuses("CONTACT_TYPE").map(\.statusID), &r))
            o["POST"] = Self.unit(&r) < 0.5 ? .null : s(Self.pick(["Директор", "Главный бухгалтер", "Менеджер по закупкам", "Инженер"], &r))
            o["COMPANY_ID"] = companies > 0 && Self.unit(&r) < 0.5 ? s(String(1 + Int(r.next() % UInt64(companies)))) : .null
            o["EXPORT"] = "Y"
            o["EMAIL"] = .array(Self.unit(&r) < 0.3 ? [] : [Self.multi(id: id * 8 + 4, type: "EMAIL", valueType: "WORK",
                                                                        value: "\(p.latin).\(id)@\(Self.pick(Self.mailDomains, &r))")])
        case .lead:
            let p = person(&r)
            o["TITLE"] = s(Self.pick(Self.leadTitles, &r))
            o["NAME"] = s(p.first)
            o["SECOND_NAME"] = ""
            o["LAST_NAME"] = Self.unit(&r) < 0.3 ? "" : s(p.last)
            o["COMPANY_TITLE"] = Self.unit(&r) < 0.5 ? .null : s(companyTitle(&r))
            o["STATUS_ID"] = s(c.status)
            o["STATUS_SEMANTIC_ID"] = s(c.status == "CONVERTED" ? "S" : c.status == "JUNK" ? "F" : "P")
            o["CURRENCY_ID"] = "RUB"
            o["OPPORTUNITY"] = Self.unit(&r) < 0.5 ? "0.00" : s(money)
            o["COMPANY_ID"] = .null
            o["CONTACT_ID"] = .null
            o["EMAIL"] = .array(Self.unit(&r) < 0.5 ? [] : [Self.multi(id: Self.multiBase(entity) + id * 8 + 4, type: "EMAIL", valueType: "HOME",
                                                                        value: "\(p.latin)\(id % 100)@\(Self.pick(Self.mailDomains, &r))")])
        case .company:
            o["TITLE"] = s(companyTitle(&r))
            o["COMPANY_TYPE"] = s(Self.pick(B24Catalog.statuses("COMPANY_TYPE").map(\.statusID), &r))
            o["INDUSTRY"] = s(Self.pick(B24Catalog.statuses("INDUSTRY").map(\.statusID), &r))
            o["REVENUE"] = s(String(format: "%.2f", Double(r.next() % 500_000_000)))
            o["CURRENCY_ID"] = "RUB"
            let city = Self.pick(Self.cities, &r)
            o["ADDRESS"] = s("\(Self.pick(Self.streets, &r)), д. \(1 + r.next() % 120)")
            o["ADDRESS_CITY"] = s(city)
            o["EMAIL"] = .array([Self.multi(id: Self.multiBase(entity) + id * 8 + 4, type: "EMAIL", valueType: "WORK", value: "info@company\(id).ru")])
            o["WEB"] = .array([Self.multi(id: Self.multiBase(entity) + id * 8 + 6, type: "WEB", valueType: "WORK", value: "https://company\(id).ru")])
        }
        if entity.hasMultifields {
            let phones = phones(entity, id)
            o["PHONE"] = .array(phones)
            o["HAS_PHONE"] = phones.isEmpty ? "N" : "Y"
            o["HAS_EMAIL"] = (o["EMAIL"]?.b24Array ?? []).isEmpty ? "N" : "Y"
        }
        for field in userFields { o[field.code] = userFieldValue(field, entity, id, created: c.created) }
        return o
    }
}
