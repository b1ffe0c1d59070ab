import Bitrix24
import SwitchboardCore

/// What the emulator needs of the CRM entities it serves, beyond the connector's names.
extension Bitrix24Entity {
    /// `DEAL`, `CONTACT`, … as in event names (`ONCRMDEALADD`).
    var upper: String { rawValue.uppercased() }
    /// Mixed into the seed so each entity has its own values.
    var salt: UInt64 {
        switch self {
        case .deal: 0x1111_D0D0
        case .contact: 0x2222_C0C0
        case .lead: 0x3333_1E1E
        case .company: 0x4444_CCCC
        }
    }
    var hasMultifields: Bool { self != .deal }
}

/// One field as `crm.*.fields` describes it.
public struct Bitrix24Field: Sendable, Equatable {
    public var code: String
    public var type: String
    public var title: String
    public var isRequired = false
    public var isReadOnly = false
    public var isImmutable = false
    public var isMultiple = false
    public var statusType: String? = nil
    /// Enumeration items `(ID, VALUE)` of a user field.
    public var items: [(id: String, value: String)] = []
    /// Human label of a user field (its `title` is the code, as Bitrix24 does).
    public var label: String? = nil
    public var settings: JSONValue? = nil

    public var isDynamic: Bool { code.hasPrefix("UF_") }

    public static func == (a: Bitrix24Field, b: Bitrix24Field) -> Bool {
        a.code == b.code && a.type == b.type && a.title == b.title && a.label == b.label
            && a.items.map(\.id) == b.items.map(\.id) && a.items.map(\.value) == b.items.map(\.value)
    }

    var metadata: JSONValue {
        var object: [String: JSONValue] = [
            "type": .string(type), "isRequired": .bool(isRequired), "isReadOnly": .bool(isReadOnly),
            "isImmutable": .bool(isImmutable), "isMultiple": .bool(isMultiple), "isDynamic": .bool(isDynamic),
            "title": .string(isDynamic ? code : title),
        ]
        if let statusType { object["statusType"] = .string(statusType) }
        if !items.isEmpty { object["items"] = .array(items.map { ["ID": .string($0.id), "VALUE": .string($0.value)] }) }
        if isDynamic {
            let text = JSONValue.string(label ?? code)
            object["listLabel"] = text
            object["formLabel"] = text
            object["filterLabel"] = text
            object["settings"] = settings ?? Self.defaultSettings(type)
        } else if let settings {
            object["settings"] = settings
        }
        return .object(object)
    }

    static func defaultSettings(_ type: String) -> JSONValue {
        switch type {
        case "string": ["SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0, "DEFAULT_VALUE": ""]
        case "double": ["PRECISION": 2, "SIZE": 20, "MIN_VALUE": 0, "MAX_VALUE": 0, "DEFAULT_VALUE": nil]
        case "boolean": ["DEFAULT_VALUE": 0, "DISPLAY": "CHECKBOX", "LABEL": ["", ""], "LABEL_CHECKBOX": ""]
        case "enumeration": ["DISPLAY": "LIST", "LIST_HEIGHT": 1, "CAPTION_NO_VALUE": "", "SHOW_NO_VALUE": "Y"]
        case "date", "datetime": ["DEFAULT_VALUE": ["TYPE": "NONE", "VALUE": ""], "USE_SECOND": "Y", "USE_TIMEZONE": "N"]
        default: [:]
        }
    }
}

/// One row of `crm.status.list`.
struct B24Status {
    var entityID: String
    var statusID: String
    var name: String
    var sort: Int
    var system: Bool
    var categoryID: Int?
    var color: String?
    var semantics: String?  // nil = process, "S" success, "F" failure
}

/// A portal user as `user.get` returns it.
struct B24User {
    var id: Int
    var name: String
    var lastName: String
    var email: String
    var position: String
    var inner: String
}

enum B24Catalog {
    static let users: [B24User] = [
        .init(id: 1, name: "Анна", lastName: "Смирнова", email: "a.smirnova@example.ru", position: "Руководитель отдела продаж", inner: "101"),
        .init(id: 2, name: "Борис", lastName: "Иванов", email: "b.ivanov@example.ru", position: "Менеджер по продажам", inner: "102"),
        .init(id: 3, name: "Вера", lastName: "Козлова", email: "v.kozlova@example.ru", position: "Менеджер по продажам", inner: "103"),
        .init(id: 4, name: "Григорий", lastName: "Петров", email: "g.petrov@example.ru", position: "Менеджер по работе с клиентами", inner: "104"),
        .init(id: 5, name: "Дарья", lastName: "Соколова", email: "d.sokolova@example.ru", position: "Оператор колл-центра", inner: "105"),
        .init(id: 6, name: "Евгений", lastName: "Морозов", email: "e.morozov@example.ru", position: "Оператор колл-центра", inner: "106"),
        .init(id: 7, name: "Жанна", lastName: "Волкова", email: "zh.volkova@example.ru", position: "Аккаунт-менеджер", inner: "107"),
        .init(id: 8, name: "Захар", lastName: "Новиков", email: "z.novikov@example.ru", position: "Менеджер по закупкам", inner: "108"),
    ]

    static let statuses: [B24Status] = {
        var rows: [B24Status] = []
        func add(_ entity: String, _ list: [(String, String)], category: Int? = nil, stages: Bool = false) {
            for (index, (id, name)) in list.enumerated() {
                var semantics: String? = nil
                if stages, id.hasSuffix("WON") || id == "CONVERTED" { semantics = "S" }
                if stages, id.hasSuffix("LOSE") || id == "JUNK" { semantics = "F" }
                let colors = ["#39A8EF", "#2FC6F6", "#55D0E0", "#47E4C2", "#FFA900", "#7BD500", "#FF5752"]
                rows.append(B24Status(
                    entityID: entity, statusID: id, name: name, sort: (index + 1) * 10, system: stages && (index == 0 || semantics != nil),
                    categoryID: category, color: stages ? colors[min(index, colors.count - 1)] : nil, semantics: semantics))
            }
        }
        add("DEAL_STAGE", [("NEW", "Новая"), ("PREPARATION", "Подготовка документов"), ("PREPAYMENT_INVOICE", "Счёт на предоплату"),
                           ("EXECUTING", "В работе"), ("FINAL_INVOICE", "Финальный счёт"), ("WON", "Сделка успешна"), ("LOSE", "Сделка провалена")],
            category: 0, stages: true)
        add("DEAL_STAGE_1", [("C1:NEW", "Новая заявка"), ("C1:PREPARATION", "Согласование условий"), ("C1:EXECUTING", "Отгрузка"),
                             ("C1:WON", "Сделка успешна"), ("C1:LOSE", "Сделка провалена")], category: 1, stages: true)
        add("STATUS", [("NEW", "Не обработан"), ("IN_PROCESS", "В работе"), ("PROCESSED", "Обработан"),
                       ("CONVERTED", "Качественный лид"), ("JUNK", "Некачественный лид")], stages: true)
        add("SOURCE", [("CALL", "Звонок"), ("EMAIL", "Электронная почта"), ("WEB", "Веб-сайт"), ("ADVERTISING", "Реклама"),
                       ("PARTNER", "Существующий клиент"), ("RECOMMENDATION", "По рекомендации"), ("TRADE_SHOW", "Выставка"),
                       ("WEBFORM", "CRM-форма"), ("CALLBACK", "Обратный звонок"), ("OTHER", "Другое")])
        add("DEAL_TYPE", [("SALE", "Продажа"), ("COMPLEX", "Комплексная продажа"), ("GOODS", "Продажа товара"),
                          ("SERVICES", "Продажа услуги"), ("SERVICE", "Сервисное обслуживание")])
        add("CONTACT_TYPE", [("CLIENT", "Клиенты"), ("SUPPLIER", "Поставщики"), ("PARTNER", "Партнёры"), ("OTHER", "Другое")])
        add("COMPANY_TYPE", [("CUSTOMER", "Клиент"), ("SUPPLIER", "Поставщик"), ("COMPETITOR", "Конкурент"), ("PARTNER", "Партнёр"), ("OTHER", "Другое")])
        add("INDUSTRY", [("IT", "Информационные технологии"), ("TELECOM", "Телекоммуникации и связь"), ("MANUFACTURING", "Производство"),
                         ("BANKING", "Банковские услуги"), ("DELIVERY", "Доставка"), ("OTHER", "Другое")])
        return rows
    }()

    static func statuses(_ entity: String) -> [B24Status] { statuses.filter { $0.entityID == entity } }
    static func stages(category: Int) -> [String] {
        switch category {
        case 0: defaultStages
        case 1: pipelineStages
        default: []
        }
    }
    static let defaultStages = statuses("DEAL_STAGE").map(\.statusID)
    static let pipelineStages = statuses("DEAL_STAGE_1").map(\.statusID)
    static let sourceIDs = statuses("SOURCE").map(\.statusID)
    static let leadStatusIDs = statuses("STATUS").map(\.statusID)
    static let categories: [(id: Int, name: String, sort: Int)] = [(0, "Общая", 100), (1, "Оптовые продажи", 200)]

    /// The standard (non-UF) fields of an entity, in Bitrix24's order.
    static func standardFields(_ entity: Bitrix24Entity) -> [Bitrix24Field] {
        func f(_ code: String, _ type: String, _ title: String, readOnly: Bool = false, immutable: Bool = false,
               required: Bool = false, multiple: Bool = false, status: String? = nil) -> Bitrix24Field {
            Bitrix24Field(code: code, type: type, title: title, isRequired: required, isReadOnly: readOnly,
                          isImmutable: immutable, isMultiple: multiple, statusType: status)
        }
        let id = f("ID", "integer", "ID", readOnly: true)
        let tail: [Bitrix24Field] = [
            f("ASSIGNED_BY_ID", "user", "Ответственный"), f("CREATED_BY_ID", "user", "Кем создана", readOnly: true),
            f("MODIFY_BY_ID", "user", "Кем изменена", readOnly: true),
            f("DATE_CREATE", "datetime", "Дата создания", readOnly: true), f("DATE_MODIFY", "datetime", "Дата изменения", readOnly: true),
            f("OPENED", "char", "Доступен для всех"), f("COMMENTS", "string", "Комментарий"),
            f("SOURCE_ID", "crm_status", "Источник", status: "SOURCE"), f("SOURCE_DESCRIPTION", "string", "Дополнительно об источнике"),
            f("UTM_SOURCE", "string", "Рекламная система"), f("UTM_MEDIUM", "string", "Тип трафика"),
            f("UTM_CAMPAIGN", "string", "Обозначение рекламной кампании"), f("UTM_CONTENT", "string", "Содержание кампании"),
            f("UTM_TERM", "string", "Условие поиска кампании"),
            f("ORIGINATOR_ID", "string", "Внешний источник"), f("ORIGIN_ID", "string", "Идентификатор элемента во внешнем источнике"),
        ]
        let multi: [Bitrix24Field] = [
            f("PHONE", "crm_multifield", "Телефон", multiple: true), f("EMAIL", "crm_multifield", "E-mail", multiple: true),
            f("WEB", "crm_multifield", "Сайт", multiple: true), f("IM", "crm_multifield", "Мессенджер", multiple: true),
        ]
        switch entity {
        case .deal:
            return [id, f("TITLE", "string", "Название"), f("TYPE_ID", "crm_status", "Тип", status: "DEAL_TYPE"),
                    f("CATEGORY_ID", "crm_category", "Воронка", immutable: true), f("STAGE_ID", "crm_status", "Стадия сделки", status: "DEAL_STAGE"),
                    f("STAGE_SEMANTIC_ID", "string", "Группа стадии", readOnly: true), f("IS_NEW", "char", "Новая сделка", readOnly: true),
                    f("PROBABILITY", "integer", "Вероятность"), f("CURRENCY_ID", "crm_currency", "Валюта"), f("OPPORTUNITY", "double", "Сумма"),
                    f("IS_MANUAL_OPPORTUNITY", "char", "IS_MANUAL_OPPORTUNITY"), f("COMPANY_ID", "crm_company", "Компания"),
                    f("CONTACT_ID", "crm_contact", "Контакт"), f("CONTACT_IDS", "crm_contact", "Контакты", multiple: true),
                    f("BEGINDATE", "date", "Дата начала"), f("CLOSEDATE", "date", "Дата завершения"), f("CLOSED", "char", "Завершена"),
                    f("LEAD_ID", "crm_lead", "Лид", readOnly: true)] + tail
        case .contact:
            return [id, f("HONORIFIC", "crm_status", "Обращение", status: "HONORIFIC"), f("NAME", "string", "Имя"),
                    f("SECOND_NAME", "string", "Отчество"), f("LAST_NAME", "string", "Фамилия"), f("BIRTHDATE", "date", "Дата рождения"),
                    f("TYPE_ID", "crm_status", "Тип контакта", status: "CONTACT_TYPE"), f("POST", "string", "Должность"),
                    f("COMPANY_ID", "crm_company", "Компания"), f("EXPORT", "char", "Участвует в экспорте контактов"),
                    f("HAS_PHONE", "char", "Задан телефон", readOnly: true), f("HAS_EMAIL", "char", "Задан e-mail", readOnly: true)]
                + tail + multi
        case .lead:
            return [id, f("TITLE", "string", "Название лида"), f("NAME", "string", "Имя"), f("SECOND_NAME", "string", "Отчество"),
                    f("LAST_NAME", "string", "Фамилия"), f("COMPANY_TITLE", "string", "Название компании"),
                    f("STATUS_ID", "crm_status", "Стадия", status: "STATUS"), f("STATUS_SEMANTIC_ID", "string", "Статус", readOnly: true),
                    f("CURRENCY_ID", "crm_currency", "Валюта"), f("OPPORTUNITY", "double", "Сумма"),
                    f("COMPANY_ID", "crm_company", "Компания"), f("CONTACT_ID", "crm_contact", "Контакт"),
                    f("HAS_PHONE", "char", "Задан телефон", readOnly: true), f("HAS_EMAIL", "char", "Задан e-mail", readOnly: true)]
                + tail + multi
        case .company:
            return [id, f("TITLE", "string", "Название компании", required: true),
                    f("COMPANY_TYPE", "crm_status", "Тип компании", status: "COMPANY_TYPE"),
                    f("INDUSTRY", "crm_status", "Сфера деятельности", status: "INDUSTRY"), f("REVENUE", "double", "Годовой оборот"),
                    f("CURRENCY_ID", "crm_currency", "Валюта"), f("ADDRESS", "string", "Фактический адрес"),
                    f("ADDRESS_CITY", "string", "Город"), f("HAS_PHONE", "char", "Задан телефон", readOnly: true),
                    f("HAS_EMAIL", "char", "Задан e-mail", readOnly: true)]
                + tail + multi
        }
    }

    /// The user fields every entity starts with (`UF_CRM_1687188367` as in the recorded company fields).
    static func initialUserFields() -> [Bitrix24Field] {
        [
            Bitrix24Field(code: "UF_CRM_1687188367", type: "string", title: "UF_CRM_1687188367", label: "Комментарий менеджера"),
            Bitrix24Field(code: "UF_CRM_1687188412", type: "enumeration", title: "UF_CRM_1687188412",
                          items: [("45", "Самовывоз"), ("46", "Курьер"), ("47", "Почта России"), ("48", "СДЭК")], label: "Способ доставки"),
            Bitrix24Field(code: "UF_CRM_1687188455", type: "boolean", title: "UF_CRM_1687188455", label: "Оплачено"),
            Bitrix24Field(code: "UF_CRM_1687188501", type: "double", title: "UF_CRM_1687188501", label: "Скидка, %"),
            Bitrix24Field(code: "UF_CRM_1687188533", type: "date", title: "UF_CRM_1687188533", label: "Дата доставки"),
        ]
    }
}
