import Foundation
import SwitchboardCore

/// An emulated amoCRM / Kommo account (API v4) — for tests and `switchboard demo` only, never a real CRM.
///
/// It follows amoCRM where a client could go wrong (`shared/docs/crm-apis.md` §2): a bearer token on every
/// call (401 problem+json otherwise); at most `perSecond` requests per second (7), over that a **429 whose
/// body is not JSON**; HAL lists (`_page`, `_links.self/next`, `_embedded.<entity>`) of at most 250, an
/// empty page is a **204 with no body**; `filter[updated_at][from|to]`, `order[updated_at|id]`; a bad
/// `limit` is a 400 with `validation-errors`; pipelines with the system statuses 142 (won) and 143 (lost).
/// Records `1…n` are generated from `(seed, id)`.
public actor AmoCRMEmulator {
    /// The token the account accepts.
    nonisolated public let accessToken: String
    nonisolated public let accountID = 29_175_955
    public private(set) var perSecond: Int
    /// Every request, refused ones included.
    public private(set) var requestCount = 0
    /// Requests refused with 429.
    public private(set) var rejectedCount = 0
    public private(set) var baseURL: String

    let clock: @Sendable () -> Double
    var windowSecond = 0
    var windowCount = 0
    var records: [String: [[String: JSONValue]]] = [:]

    /// One page of a list: a JSON body, or a 204.
    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var contentType: String
        public var body: String
    }

    public static let entities = ["leads", "contacts", "companies"]
    /// The pipeline's statuses: (id, name, type); 142 and 143 are amoCRM's won and lost in every pipeline.
    static let statuses: [(id: Int, name: String, type: Int)] = [
        (40_166_518, "Неразобранное", 1), (40_166_521, "Первичный контакт", 0), (40_166_524, "Переговоры", 0),
        (40_166_527, "Принимают решение", 0), (142, "Успешно реализовано", 0), (143, "Закрыто и не реализовано", 0),
    ]
    static let pipelineID = 4_122_859
    static let users = [6_158_035, 6_158_036, 6_158_037]

    /// - Parameters:
    ///   - leads, contacts, companies: how many records with ids `1…n` the account starts with.
    ///   - clock: unix seconds; records were changed in the 60 days before its value at init.
    public init(
        leads: Int = 0, contacts: Int = 0, companies: Int = 0, seed: UInt64 = 1, accessToken: String = "sandbox-amocrm-token",
        perSecond: Int = 7, baseURL: String = "https://sandbox.amocrm.ru", clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.accessToken = accessToken
        self.perSecond = perSecond
        self.baseURL = baseURL
        self.clock = clock
        let now = Int(clock())
        for (entity, count) in [("leads", leads), ("contacts", contacts), ("companies", companies)] {
            records[entity] = (0..<count).map { Self.generate(entity, id: $0 + 1, seed: seed, now: now) }
        }
    }

    public func setBaseURL(_ url: String) { baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url }

    /// How many records of an entity exist.
    public func count(_ entity: String) -> Int { records[entity]?.count ?? 0 }

    /// Serves one request.
    public func handle(method: String, path: String, query: [(String, String)], headers: [String: String]) -> Answer {
        requestCount += 1
        let second = Int(clock())
        if second != windowSecond { (windowSecond, windowCount) = (second, 0) }
        windowCount += 1
        guard windowCount <= perSecond else {
            rejectedCount += 1
            return Answer(status: 429, contentType: "text/html; charset=UTF-8", body: "<html><body><h1>429 Too Many Requests</h1></body></html>")
        }
        guard headers["authorization"] == "Bearer \(accessToken)" else {
            return Self.problem(401, "Unauthorized", detail: "Invalid access token")
        }
        let parameters = Dictionary(query, uniquingKeysWith: { _, last in last })
        switch (method, path.hasSuffix("/") ? String(path.dropLast()) : path) {
        case ("GET", "/api/v4/leads/pipelines"): return pipelines()
        case ("GET", let path) where path.hasPrefix("/api/v4/") && Self.entities.contains(String(path.dropFirst(8))):
            return list(String(path.dropFirst(8)), parameters)
        default: return Self.problem(404, "Not Found", detail: "Not found")
        }
    }

    func list(_ entity: String, _ parameters: [String: String]) -> Answer {
        let limit = Int(parameters["limit"] ?? "50") ?? -1
        guard (1...250).contains(limit) else {
            return Self.validation(path: "limit", code: "InvalidValue", detail: "This value should be between 1 and 250.")
        }
        let page = Int(parameters["page"] ?? "1") ?? 0
        guard page >= 1 else { return Self.validation(path: "page", code: "InvalidValue", detail: "This value should be 1 or more.") }
        var rows = records[entity] ?? []
        for (key, keep) in [("filter[updated_at][from]", { (a: Int, b: Int) in a >= b }), ("filter[updated_at][to]", { (a: Int, b: Int) in a <= b })] {
            guard let raw = parameters[key] else { continue }
            guard let bound = Int(raw) else { return Self.validation(path: key, code: "InvalidType", detail: "This value should be of type int.") }
            rows = rows.filter { keep($0["updated_at"]?.intValue ?? 0, bound) }
        }
        if let order = parameters["order[updated_at]"] {
            rows.sort { ($0["updated_at"]?.intValue ?? 0, $0["id"]?.intValue ?? 0) < ($1["updated_at"]?.intValue ?? 0, $1["id"]?.intValue ?? 0) }
            if order == "desc" { rows.reverse() }
        } else if parameters["order[id]"] == "desc" {
            rows.reverse()
        }
        let start = (page - 1) * limit
        guard start < rows.count else { return Answer(status: 204, contentType: "", body: "") }
        let slice = Array(rows[start..<min(start + limit, rows.count)])
        func href(_ page: Int) -> JSONValue {
            var pairs = parameters.filter { $0.key != "page" }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            pairs.append(("page", String(page)))
            return ["href": .string("\(baseURL)/api/v4/\(entity)?" + FormURLEncoding.encode(pairs))]
        }
        var links: [String: JSONValue] = ["self": href(page)]
        if start + limit < rows.count { links["next"] = href(page + 1) }
        if page > 1 { links["prev"] = href(page - 1) }
        let body: JSONValue = ["_page": .number(Double(page)), "_links": .object(links), "_embedded": [entity: .array(slice.map(JSONValue.object))]]
        return Answer(status: 200, contentType: "application/hal+json", body: body.jsonText)
    }

    func pipelines() -> Answer {
        let statuses: [JSONValue] = Self.statuses.enumerated().map { index, status in
            [
                "id": .number(Double(status.id)), "name": .string(status.name), "sort": .number(Double(index * 10 + 10)),
                "is_editable": status.id == 142 || status.id == 143 ? false : true, "pipeline_id": .number(Double(Self.pipelineID)),
                "color": "#99ccff", "type": .number(Double(status.type)), "account_id": .number(Double(accountID)),
            ]
        }
        let pipeline: JSONValue = [
            "id": .number(Double(Self.pipelineID)), "name": "Воронка", "sort": 1, "is_main": true, "is_unsorted_on": true, "is_archive": false,
            "account_id": .number(Double(accountID)), "_embedded": ["statuses": .array(statuses)],
        ]
        let body: JSONValue = ["_total_items": 1, "_links": ["self": ["href": .string("\(baseURL)/api/v4/leads/pipelines")]], "_embedded": ["pipelines": [pipeline]]]
        return Answer(status: 200, contentType: "application/hal+json", body: body.jsonText)
    }

    static func problem(_ status: Int, _ title: String, detail: String) -> Answer {
        let body: JSONValue = ["title": .string(title), "type": .string("https://httpstatus.es/\(status)"), "status": .number(Double(status)), "detail": .string(detail)]
        return Answer(status: status, contentType: "application/problem+json", body: body.jsonText)
    }

    static func validation(path: String, code: String, detail: String) -> Answer {
        let body: JSONValue = [
            "validation-errors": [["request_id": "0", "errors": [["code": .string(code), "path": .string(path), "detail": .string(detail)]]]],
            "title": "Bad Request", "type": "https://httpstatus.es/400", "status": 400, "detail": "Request validation failed",
        ]
        return Answer(status: 400, contentType: "application/problem+json", body: body.jsonText)
    }

    /// A record as amoCRM v4 returns it, the same for the same `(seed, id)`.
    static func generate(_ entity: String, id: Int, seed: UInt64, now: Int) -> [String: JSONValue] {
        var random = SplitMix64(seed: seed &* 31 &+ UInt64(id) &* 7919 &+ UInt64(entity.utf8.count))
        let created = now - 60 * 86_400 + Int(random.next() % UInt64(50 * 86_400))
        let updated = created + Int(random.next() % UInt64(10 * 86_400))
        let user = users[Int(random.next() % UInt64(users.count))]
        var record: [String: JSONValue] = [
            "id": .number(Double(id)), "responsible_user_id": .number(Double(user)), "created_by": .number(Double(user)),
            "updated_by": .number(Double(user)), "created_at": .number(Double(created)), "updated_at": .number(Double(updated)),
            "account_id": 29_175_955, "_links": ["self": ["href": .string("/api/v4/\(entity)/\(id)")]],
            "_embedded": ["tags": [], "companies": []], "custom_fields_values": .null,
        ]
        switch entity {
        case "leads":
            let status = statuses[1 + Int(random.next() % UInt64(statuses.count - 1))]
            record["name"] = .string("Сделка #\(id)")
            record["price"] = .number(Double(1000 * (1 + Int(random.next() % 90))))
            record["group_id"] = 0
            record["status_id"] = .number(Double(status.id))
            record["pipeline_id"] = .number(Double(pipelineID))
            record["loss_reason_id"] = .null
            record["closed_at"] = status.id == 142 || status.id == 143 ? .number(Double(updated)) : .null
            record["closest_task_at"] = .null
            record["is_deleted"] = false
            record["score"] = .null
            record["labor_cost"] = .null
            record["custom_fields_values"] = [[
                "field_id": 123_458, "field_name": "utm_source", "field_code": .null, "field_type": "text",
                "values": [["value": .string(["google", "yandex", "direct"][Int(random.next() % 3)])]],
            ]]
        case "contacts":
            let first = ["Иван", "Мария", "Пётр", "Анна"][Int(random.next() % 4)]
            let last = ["Иванов", "Смирнова", "Петров", "Кузнецова"][Int(random.next() % 4)]
            record["name"] = .string("\(first) \(last)")
            record["first_name"] = .string(first)
            record["last_name"] = .string(last)
            record["is_unsorted"] = false
            record["custom_fields_values"] = [[
                "field_id": 123_456, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext",
                "values": [["value": .string("+7916\(String(format: "%07d", id))"), "enum_id": 301, "enum_code": "WORK"]],
            ]]
        default:
            record["name"] = .string("ООО «Компания \(id)»")
        }
        return record
    }
}
