import Foundation
import RetailCRM
import SwitchboardCore

/// An emulated RetailCRM account (API v5) — for tests and `switchboard demo` only, never a real CRM.
///
/// It is as strict as the real API where our connector could go wrong: the key in `X-API-KEY` or
/// `apiKey`, POST parameters form-encoded with nested objects as one JSON string (nested form keys are
/// refused as "non-scalar"), the allowed values of `type`, `hangupStatus` and `result`, at most 50
/// calls per upload, "Telephony not enabled" until a telephony module is active, and the rate limits
/// (10 requests/s per key, 40/s for telephony methods) answered with 503 "Rate limit exceeded".
public actor RetailCRMEmulator {
    public struct Customer: Sendable {
        public var id: Int
        public var phone: String
        public var managerID: Int?
        public init(id: Int, phone: String, managerID: Int?) {
            self.id = id
            self.phone = phone
            self.managerID = managerID
        }
    }

    public let apiKey: String
    public private(set) var users: [RetailCRMUser]
    public private(set) var customers: [Customer]
    public private(set) var module: RetailCRMIntegrationModule?
    public private(set) var callEvents: [RetailCRMCallEvent] = []
    public private(set) var uploadedCalls: [RetailCRMCall] = []
    public private(set) var tasks: [RetailCRMTask] = []
    /// Every request as `METHOD /path`, for tests.
    public private(set) var requests: [String] = []
    private var windows: [String: [Double]] = [:]
    private var injected: [(status: Int, message: String)] = []
    private let clock: @Sendable () -> Double

    public init(
        apiKey: String = "sandbox-retailcrm-key", users: [RetailCRMUser] = RetailCRMEmulator.sampleUsers,
        customers: [Customer] = RetailCRMEmulator.sampleCustomers,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.apiKey = apiKey
        self.users = users
        self.customers = customers
        self.clock = clock
    }

    public static let sampleUsers = [
        RetailCRMUser(id: 18, firstName: "Анна", lastName: "Смирнова", email: "anna@example.com"),
        RetailCRMUser(id: 19, firstName: "Борис", lastName: "Иванов", email: "boris@example.com"),
        RetailCRMUser(id: 22, firstName: "Вера", lastName: "Козлова", email: "vera@example.com"),
    ]
    public static let sampleCustomers = [Customer(id: 1233, phone: "+375296254070", managerID: 19)]

    /// The next `count` requests fail with `status` and RetailCRM's error body (outage drills).
    public func failNext(_ count: Int, status: Int = 503, message: String = "Service temporarily unavailable") {
        injected += Array(repeating: (status, message), count: count)
    }

    public func setModule(_ module: RetailCRMIntegrationModule?) { self.module = module }

    /// An answer: HTTP status and JSON body.
    public struct Answer: Sendable, Equatable, Error {
        public var status: Int
        public var body: JSONValue
        public static func ok(_ fields: [String: JSONValue] = [:]) -> Answer {
            Answer(status: 200, body: .object(fields.merging(["success": true]) { $1 }))
        }
        public static func error(_ status: Int, _ message: String, errors: [String: String] = [:]) -> Answer {
            var body: [String: JSONValue] = ["success": false, "errorMsg": .string(message)]
            if !errors.isEmpty { body["errors"] = .object(errors.mapValues { .string($0) }) }
            return Answer(status: status, body: .object(body))
        }
    }

    /// Handles one request: `path` below the host (`/api/v5/…`), `query` and the raw body.
    public func handle(method: String, path: String, query: [(String, String)], headers: [String: String], body: String) -> Answer {
        requests.append("\(method) \(path)")
        let form: [(String, String)]
        let contentType = headers["content-type"] ?? ""
        if method == "POST" && contentType.hasPrefix("application/x-www-form-urlencoded") {
            guard let decoded = try? FormURLEncoding.decode(body) else { return .error(400, "Errors in the input parameters") }
            form = decoded
        } else {
            form = []  // RetailCRM reads POST parameters only from a form body
        }
        let parameters = query + form
        let key = headers["x-api-key"] ?? parameters.first { $0.0 == "apiKey" }?.1
        guard let key else { return .error(403, "\"apiKey\" is missing.") }
        guard key == apiKey else { return .error(403, "Wrong \"apiKey\" value.") }
        let telephony = path.hasPrefix("/api/v5/telephony/")
        if let limited = rateLimit(key: key + (telephony ? ":telephony" : ""), limit: telephony ? 40 : 10) { return limited }
        if !injected.isEmpty {
            let failure = injected.removeFirst()
            return .error(failure.status, failure.message)
        }
        if let nested = form.first(where: { $0.0.contains("[") }) {
            let name = String(nested.0.prefix { $0 != "[" })
            return .error(400, "Input value \"\(name)\" contains a non-scalar value.")
        }
        func parameter(_ name: String) -> String? { parameters.last { $0.0 == name }?.1 }
        switch (method, path) {
        case ("POST", "/api/v5/telephony/call/event"): return callEvent(parameter("event"))
        case ("POST", "/api/v5/telephony/calls/upload"): return upload(parameter("calls"))
        case ("GET", "/api/v5/telephony/manager"): return manager(parameter("phone"))
        case ("GET", "/api/v5/users"): return usersPage(page: parameter("page"), limit: parameter("limit"))
        case ("POST", "/api/v5/tasks/create"): return createTask(parameter("task"))
        case ("GET", "/api/credentials"):
            return .ok(["credentials": ["/api/telephony/call/event", "/api/telephony/calls/upload", "/api/integration-modules/{code}/edit", "/api/users", "/api/tasks/create"]])
        default:
            if method == "POST", path.hasPrefix("/api/v5/integration-modules/"), path.hasSuffix("/edit") {
                let code = String(path.dropFirst("/api/v5/integration-modules/".count).dropLast("/edit".count))
                return editModule(code: code, parameter("integrationModule"))
            }
            if method == "GET", path.hasPrefix("/api/v5/integration-modules/"), let module {
                return .ok(["integrationModule": (try? JSONValue(encoding: module)) ?? .null])
            }
            return .error(404, "Method not found")
        }
    }

    private func rateLimit(key: String, limit: Int) -> Answer? {
        let now = clock()
        var window = (windows[key] ?? []).filter { now - $0 < 1 }
        guard window.count < limit else {
            windows[key] = window
            return .error(503, "Rate limit exceeded")
        }
        window.append(now)
        windows[key] = window
        return nil
    }

    private func decode<T: Decodable>(_ type: T.Type, _ text: String?, name: String) -> Result<T, Answer> {
        guard let text, !text.isEmpty else { return .failure(.error(400, "Parameter '\(name)' is missing")) }
        do {
            return .success(try JSONDecoder().decode(T.self, from: Data(text.utf8)))
        } catch {
            return .failure(.error(400, "Errors in the input parameters", errors: [name: "invalid JSON or missing field: \(error)"]))
        }
    }

    private var telephonyEnabled: Bool { module?.active == true }

    private func callEvent(_ text: String?) -> Answer {
        let event: RetailCRMCallEvent
        switch decode(RetailCRMCallEvent.self, text, name: "event") {
        case .failure(let answer): return answer
        case .success(let value): event = value
        }
        var errors: [String: String] = [:]
        if event.phone.isEmpty { errors["phone"] = "This value should not be blank." }
        if !RetailCRMCallEvent.types.contains(event.type) { errors["type"] = "The value you selected is not a valid choice." }
        if let status = event.hangupStatus, !RetailCRMCallEvent.hangupStatuses.contains(status) {
            errors["hangupStatus"] = "The value you selected is not a valid choice."
        }
        guard errors.isEmpty else { return .error(400, "Errors in the input parameters", errors: errors) }
        guard telephonyEnabled else { return .error(400, "Telephony not enabled") }
        callEvents.append(event)
        return .ok()
    }

    private func upload(_ text: String?) -> Answer {
        let calls: [RetailCRMCall]
        switch decode([RetailCRMCall].self, text, name: "calls") {
        case .failure(let answer): return answer
        case .success(let value): calls = value
        }
        guard (1...RetailCRMCall.maxPerUpload).contains(calls.count) else {
            return .error(400, "Errors in the input parameters", errors: ["calls": "from 1 to 50 calls per request"])
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        var errors: [String: String] = [:]
        for (index, call) in calls.enumerated() {
            if formatter.date(from: call.date) == nil { errors["calls[\(index)].date"] = "Y-m-d H:i:s expected" }
            if !["in", "out"].contains(call.type) { errors["calls[\(index)].type"] = "The value you selected is not a valid choice." }
            if call.phone.isEmpty || !call.phone.allSatisfy(\.isNumber) { errors["calls[\(index)].phone"] = "digits only" }
            if !RetailCRMCall.results.contains(call.result) { errors["calls[\(index)].result"] = "The value you selected is not a valid choice." }
            if call.duration < 0 { errors["calls[\(index)].duration"] = "must not be negative" }
        }
        guard errors.isEmpty else { return .error(400, "Errors in the input parameters", errors: errors) }
        guard telephonyEnabled else { return .error(400, "Telephony not enabled") }
        var duplicates: [JSONValue] = []
        var processed = 0
        for call in calls {
            if uploadedCalls.contains(where: { $0.externalId == call.externalId }) {
                duplicates.append(.string(call.externalId))
            } else {
                uploadedCalls.append(call)
                processed += 1
            }
        }
        return .ok(["processedCallsCount": .number(Double(processed)), "duplicateCalls": .array(duplicates)])
    }

    private func manager(_ phone: String?) -> Answer {
        guard let phone, !phone.isEmpty else { return .error(400, "Parameter 'phone' is missing") }
        let digits = String(phone.filter(\.isNumber).suffix(9))
        guard let customer = customers.first(where: { $0.phone.filter(\.isNumber).hasSuffix(digits) }) else { return .ok() }
        var body: [String: JSONValue] = ["customer": ["id": .number(Double(customer.id))]]
        if let id = customer.managerID, let user = users.first(where: { $0.id == id }) {
            body["manager"] = ["id": .number(Double(user.id)), "firstName": .string(user.firstName ?? ""), "lastName": .string(user.lastName ?? "")]
        }
        return .ok(body)
    }

    private func usersPage(page: String?, limit: String?) -> Answer {
        let size = Int(limit ?? "20") ?? -1
        guard [20, 50, 100].contains(size) else { return .error(400, "Errors in the input parameters", errors: ["limit": "must be 20, 50 or 100"]) }
        let number = Int(page ?? "1") ?? 0
        guard number >= 1 else { return .error(400, "Errors in the input parameters", errors: ["page": "must be 1 or more"]) }
        let slice = users.dropFirst((number - 1) * size).prefix(size)
        let total = max(1, (users.count + size - 1) / size)
        return .ok([
            "users": (try? JSONValue(encoding: Array(slice))) ?? .array([]),
            "pagination": ["limit": .number(Double(size)), "totalCount": .number(Double(users.count)),
                           "currentPage": .number(Double(number)), "totalPageCount": .number(Double(total))],
        ])
    }

    private func createTask(_ text: String?) -> Answer {
        let task: RetailCRMTask
        switch decode(RetailCRMTask.self, text, name: "task") {
        case .failure(let answer): return answer
        case .success(let value): task = value
        }
        guard !task.text.isEmpty else { return .error(400, "Errors in the input parameters", errors: ["text": "This value should not be blank."]) }
        guard users.contains(where: { $0.id == task.performerId }) else {
            return .error(400, "Errors in the input parameters", errors: ["performerId": "User not found"])
        }
        tasks.append(task)
        return .ok(["id": .number(Double(tasks.count))])
    }

    private func editModule(code: String, _ text: String?) -> Answer {
        let module: RetailCRMIntegrationModule
        switch decode(RetailCRMIntegrationModule.self, text, name: "integrationModule") {
        case .failure(let answer): return answer
        case .success(let value): module = value
        }
        var errors: [String: String] = [:]
        if module.code != code { errors["code"] = "must match the code in the URL" }
        if module.baseUrl.isEmpty { errors["baseUrl"] = "This value should not be blank." }
        if !(module.logo.hasPrefix("<svg") || module.logo.hasPrefix("data:image/svg+xml") || module.logo.hasSuffix(".svg")) {
            errors["logo"] = "Logo image must be svg"
        }
        if module.integrations.telephony.makeCallUrl.isEmpty { errors["integrations.telephony.makeCallUrl"] = "This value should not be blank." }
        guard errors.isEmpty else { return .error(400, "Errors in the input parameters", errors: errors) }
        self.module = module
        return .ok(["info": [:]])
    }
}
