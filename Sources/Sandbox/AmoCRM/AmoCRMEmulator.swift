import Foundation
import SwitchboardCore

/// An emulated amoCRM / Kommo account (API v4) — for tests and `switchboard demo` only, never a real CRM.
///
/// It follows amoCRM where a client could go wrong (`shared/docs/crm-apis.md` §2): a bearer token on every
/// call (401 problem+json otherwise) — a long-lived one, or OAuth tokens from `/oauth2/access_token` that
/// expire and whose refresh token works **once**; at most `perSecond` requests per second (7), over that a
/// **429 whose body is not JSON**; HAL lists of at most 250 in pages by number, an empty page is a **204
/// with no body**; `filter[id]`, `filter[updated_at][from|to]`, `order[updated_at|id]`, `with=contacts`,
/// `with=only_deleted`; 400s with `validation-errors` naming the field path; pipelines with the system
/// statuses 142 (won) and 143 (lost) in each; writes of leads and contacts, calls attached by phone (a call
/// whose number no contact has is **not added**), and form-encoded v2 webhooks to registered destinations.
/// Records `1…n` are generated from `(seed, id)`.
public actor AmoCRMEmulator {
    /// The long-lived token the account accepts.
    nonisolated public let accessToken: String
    nonisolated public let accountID = 29_175_955
    nonisolated public let subdomain = "sandbox"
    /// The OAuth integration's credentials.
    nonisolated public let clientID = "5d2c9f3e-0d7b-4a58-9c33-sandbox00001"
    nonisolated public let clientSecret = "sandbox-amocrm-client-secret-0001"
    public internal(set) var perSecond: Int
    /// Every request, refused ones included.
    public internal(set) var requestCount = 0
    /// Requests refused with 429.
    public internal(set) var rejectedCount = 0
    /// The most requests any one second saw (rate-limit honesty).
    public internal(set) var busiestSecond = 0
    public internal(set) var baseURL: String
    /// Token refreshes served, and refreshes refused because the refresh token was already used.
    public internal(set) var refreshCount = 0
    public internal(set) var reusedRefreshTokens = 0
    /// Calls added through `/api/v4/calls`, and those refused because no contact has the number.
    public internal(set) var calls: [[String: JSONValue]] = []
    public internal(set) var refusedCalls: [[String: JSONValue]] = []
    /// Tasks added through `/api/v4/tasks`, and incoming-call popups through `/api/v2/events`.
    public internal(set) var tasks: [[String: JSONValue]] = []
    public internal(set) var popups: [[String: JSONValue]] = []

    let clock: @Sendable () -> Double
    var windowSecond = 0
    var windowCount = 0
    var records: [String: [Int: [String: JSONValue]]] = [:]
    var deleted: [String: [Int: [String: JSONValue]]] = [:]
    /// Live ids in order, per entity (lists are read in id order; sorting 50,000 records per page is slow).
    var orderedIDs: [String: [Int]] = [:]
    var nextID: [String: Int] = [:]
    var oauth = AmoCRMEmulatorOAuth()
    /// Custom fields added through the API, per entity.
    var addedFields: [String: [JSONValue]] = [:]
    /// Webhook destinations and the events each wants (`add_lead`, `update_contact`…).
    var webhooks: [(destination: String, settings: Set<String>)] = []
    var pendingDeliveries: [Int: Task<Void, Never>] = [:]
    var nextDelivery = 0
    /// Every webhook delivery: destination, body, HTTP status (nil: no answer).
    public internal(set) var deliveries: [(destination: String, body: String, status: Int?)] = []

    /// One answer: a JSON body, or a 204.
    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var contentType: String
        public var body: String
    }

    public static let entities = ["leads", "contacts", "companies"]
    static let pipelineID = 4_122_859
    static let secondPipelineID = 4_122_860
    static let users: [(id: Int, name: String)] = [(6_158_035, "Анна Смирнова"), (6_158_036, "Олег Петров"), (6_158_037, "Ирина Кузнецова")]

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
            var rows: [Int: [String: JSONValue]] = [:]
            for id in 1...max(count, 1) where id <= count {
                rows[id] = Self.generate(entity, id: id, seed: seed, now: now, contacts: contacts, companies: companies)
            }
            records[entity] = rows
            nextID[entity] = count + 1
        }
    }

    public func setBaseURL(_ url: String) { baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url }
    public func setPerSecond(_ limit: Int) { perSecond = limit }

    /// How many live records of an entity exist.
    public func count(_ entity: String) -> Int { records[entity]?.count ?? 0 }
    /// A live record as stored (tests).
    public func record(_ entity: String, id: Int) -> [String: JSONValue]? { records[entity]?[id] }

    /// Serves one request.
    public func handle(method: String, path: String, query: [(String, String)], headers: [String: String], body: String = "") -> Answer {
        requestCount += 1
        let second = Int(clock())
        if second != windowSecond { (windowSecond, windowCount) = (second, 0) }
        windowCount += 1
        guard windowCount <= perSecond else {
            rejectedCount += 1
            return Answer(status: 429, contentType: "text/html; charset=UTF-8", body: "<html><body><h1>429 Too Many Requests</h1></body></html>")
        }
        busiestSecond = max(busiestSecond, windowCount)
        let route = path.hasSuffix("/") ? String(path.dropLast()) : path
        if method == "POST" && route == "/oauth2/access_token" { return tokenEndpoint(body) }
        guard let authorization = headers["authorization"], authorization.hasPrefix("Bearer "),
            isValid(token: String(authorization.dropFirst(7)))
        else {
            return Self.problem(401, "Unauthorized", detail: "Invalid access token")
        }
        let parameters = Dictionary(query, uniquingKeysWith: { _, last in last })
        let parts = route.split(separator: "/").map(String.init)  // ["api", "v4", "leads", …]
        if method == "POST" && route == "/api/v2/events" { return addPopups(body) }
        guard parts.count >= 3, parts[0] == "api", parts[1] == "v4" else { return Self.problem(404, "Not Found", detail: "Not found") }
        let rest = Array(parts.dropFirst(2))
        let entity = rest[0]
        let isRecords = Self.entities.contains(entity)
        let isWritable = entity == "leads" || entity == "contacts"
        switch (method, rest.count) {
        case ("GET", 2) where entity == "leads" && rest[1] == "pipelines": return pipelines()
        case ("GET", 2) where isRecords && rest[1] == "custom_fields": return customFields(entity, parameters)
        case ("GET", 1) where entity == "users": return users(parameters)
        case ("GET", 1) where entity == "account":
            let account: JSONValue = ["id": .number(Double(accountID)), "name": "Sandbox", "subdomain": .string(subdomain), "country": "RU", "currency": "RUB"]
            return Self.ok(account)
        case ("GET", 1) where isRecords: return list(entity, query, parameters)
        case ("GET", 2) where isRecords:
            guard let id = Int(rest[1]), var row = records[entity]?[id] else { return Answer(status: 204, contentType: "", body: "") }
            if entity == "leads", !(parameters["with"] ?? "").contains("contacts"), var embedded = row["_embedded"]?.objectValue {
                embedded["contacts"] = nil
                row["_embedded"] = .object(embedded)
            }
            return Self.ok(.object(row))
        case ("POST", 1) where isWritable: return create(entity, body)
        case ("POST", 2) where entity == "leads" && rest[1] == "complex": return createComplex(body)
        case ("POST", 3) where entity == "leads" && rest[2] == "link": return link(lead: Int(rest[1]) ?? 0, body)
        case ("POST", 2) where isRecords && rest[1] == "custom_fields": return addCustomFields(entity, body)
        case ("PATCH", 1) where isWritable: return update(entity, id: nil, body)
        case ("PATCH", 2) where isWritable: return update(entity, id: Int(rest[1]) ?? 0, body)
        case ("POST", 1) where entity == "calls": return addCalls(body)
        case ("POST", 1) where entity == "tasks": return addTasks(body)
        case ("POST", 1) where entity == "webhooks": return subscribe(body)
        default: return Self.problem(404, "Not Found", detail: "Not found")
        }
    }

    static func problem(_ status: Int, _ title: String, detail: String) -> Answer {
        let body: JSONValue = ["title": .string(title), "type": .string("https://httpstatus.es/\(status)"), "status": .number(Double(status)), "detail": .string(detail)]
        return Answer(status: status, contentType: "application/problem+json", body: body.jsonText)
    }

    static func validation(path: String, code: String, detail: String, requestID: String = "0") -> Answer {
        let body: JSONValue = [
            "validation-errors": [["request_id": .string(requestID), "errors": [["code": .string(code), "path": .string(path), "detail": .string(detail)]]]],
            "title": "Bad Request", "type": "https://httpstatus.es/400", "status": 400, "detail": "Request validation failed",
        ]
        return Answer(status: 400, contentType: "application/problem+json", body: body.jsonText)
    }

    static func ok(_ body: JSONValue) -> Answer { Answer(status: 200, contentType: "application/hal+json", body: body.jsonText) }
}
