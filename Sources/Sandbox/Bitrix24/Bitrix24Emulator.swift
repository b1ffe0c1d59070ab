import Bitrix24
import Foundation
import SwitchboardCore

/// An emulated Bitrix24 portal (REST API) — for tests and `switchboard demo` only, never a real CRM.
///
/// It follows Bitrix24's rules where a client could go wrong (`shared/docs/crm-apis.md` §1): incoming-webhook
/// URLs `/rest/{user}/{code}/{method}[.json]` and OAuth apps calling `/rest/{method}` with `auth`; a leaky
/// bucket per portal (503 `QUERY_LIMIT_EXCEEDED`); pages of 50 with `total`/`next` and `start=-1`; filter
/// prefixes; `batch` with `$result[…]` references; all values as strings; online events form-encoded and
/// never retried, offline events deduplicated per object; telephony only in application context.
///
/// Records `1…n` are generated on demand from `(seed, id)`, so 100k deals cost nothing until changed; only
/// changed or added records and a set of deleted ids are kept. With `SandboxServer.withBitrix24` the
/// incoming webhook URL is `\(base)/rest/1/\(webhookCode)/` and the OAuth token URL `\(base)/oauth/token/`.
///
/// The `public` functions that are not HTTP handlers (`failNext`, `touch`, `addRecord`, `addUserField`, …)
/// are test controls and not part of Bitrix24's API.
public actor Bitrix24Emulator {
    /// The incoming webhook's secret code.
    nonisolated public let webhookCode: String
    /// The user the incoming webhook acts as.
    nonisolated public let webhookUserID = 1
    /// The local application's credentials for `/oauth/token/`.
    nonisolated public let clientID: String
    nonisolated public let clientSecret: String
    /// The application token sent in `auth[application_token]` of events to app handlers.
    nonisolated public let applicationToken: String
    nonisolated public let memberID: String
    /// Leaky bucket: requests drain at this rate (Bitrix24: 2/s, Enterprise 5/s)…
    public private(set) var drainPerSecond: Double
    /// …and are refused above this level (Bitrix24: 50, Enterprise 250).
    public private(set) var burst: Double
    /// Real portals refuse telephony methods called through an incoming webhook (`WRONG_AUTH_TYPE`);
    /// some older portals allowed it — set this to emulate those.
    public private(set) var allowTelephonyViaWebhook: Bool
    /// How long one online delivery may take before it counts as lost (AsyncHTTPClient keeps retrying a
    /// refused connection until then).
    public private(set) var deliveryTimeout: Double = 5
    /// How long access tokens live (Bitrix24: an hour; tests shorten it to see renewals).
    public private(set) var accessTokenLifetime: Double = 3600

    let clock: @Sendable () -> Double
    var generator: B24Generator
    var userFields: [Bitrix24Entity: [Bitrix24Field]] = [:]
    var patches: [Bitrix24Entity: [Int: [String: JSONValue]]] = [:]
    var deleted: [Bitrix24Entity: Set<Int>] = [:]
    var nextID: [Bitrix24Entity: Int] = [:]
    var nextMultiID = 900_000_000
    /// `ENTITY:TYPE:key` → ids, for `crm.duplicate.findbycomm` (nil until first asked).
    var communicationIndex: [String: Set<Int>]?
    var rng: SplitMix64
    /// Where the emulator is reachable (`client_endpoint` is this + `/rest/`).
    public private(set) var baseURL: String

    // Leaky bucket and counters.
    var bucketLevel = 0.0
    var bucketTime: Double?
    /// Every HTTP request to `/rest/…` (a batch counts once), refused ones included.
    public private(set) var requestCount = 0
    /// Requests refused by the leaky bucket.
    public private(set) var rejectedCount = 0
    /// Executed requests per whole second of the clock, for load drills.
    public private(set) var requestsPerSecond: [Int: Int] = [:]
    /// Records the last `crm.*.list` examined (test inspection: a `>ID` keyset page costs about one page, not the table).
    public internal(set) var lastListExamined = 0
    /// Every method executed, batch sub-calls included (`crm.deal.list`, `batch`, …).
    public internal(set) var methodCalls: [String] = []
    var injected: [(status: Int, error: String, description: String)] = []

    // OAuth.
    var authorizationCodes: [String: Double] = [:]
    var accessTokens: [String: (expires: Double, user: Int)] = [:]
    /// Tokens of other applications installed on the portal (test control), by token → app code.
    var tokenApps: [String: String] = [:]
    var refreshTokens: [String: Int] = [:]
    /// Refresh-token grants served (each rotates the refresh token: the old one is dead afterwards).
    public internal(set) var tokenRefreshes = 0

    // Events.
    /// Handlers bound with `event.bind` or registered as outgoing webhooks.
    public internal(set) var bindings: [EventBinding] = []
    var nextBindingID = 1
    var offlineQueue: [OfflineEvent] = []
    var nextOfflineID = 1
    /// Every attempted online delivery, in order of completion.
    public internal(set) var deliveries: [Delivery] = []
    /// Online deliveries that failed; Bitrix24 never retries them.
    public internal(set) var lostDeliveries = 0
    var pendingDeliveries: [Int: Task<Void, Never>] = [:]
    var nextDeliveryID = 0

    // Telephony.
    /// Calls registered with `telephony.externalcall.register` (and click-to-call), in order.
    public internal(set) var externalCalls: [ExternalCall] = []
    /// Lines added with `telephony.externalLine.add`.
    public internal(set) var externalLines: [(number: String, name: String)] = []
    var nextFileID = 9000
    var nextActivityID = 7000

    /// - Parameters:
    ///   - deals, contacts, leads, companies: how many records with ids `1…n` the portal starts with.
    ///   - seed: the same seed gives the same records.
    ///   - clock: unix seconds; generated dates lie in the two years before its value at init.
    public init(
        webhookCode: String = "sandboxwebhookcode", deals: Int = 0, contacts: Int = 0, leads: Int = 0, companies: Int = 0,
        seed: UInt64 = 1, clientID: String = "local.sandbox0000000001.00000001", clientSecret: String = "sandbox-client-secret",
        drainPerSecond: Double = 2, burst: Double = 50, allowTelephonyViaWebhook: Bool = false,
        baseURL: String = "https://sandbox.bitrix24.ru",
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.webhookCode = webhookCode
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.drainPerSecond = drainPerSecond
        self.burst = burst
        self.allowTelephonyViaWebhook = allowTelephonyViaWebhook
        self.baseURL = baseURL
        self.clock = clock
        let counts: [Bitrix24Entity: Int] = [.deal: deals, .contact: contacts, .lead: leads, .company: companies]
        generator = B24Generator(seed: seed, anchor: (clock() / 3600).rounded(.down) * 3600, counts: counts)
        var r = SplitMix64(seed: seed ^ 0xB24)
        applicationToken = B24.hex(&r, count: 32)
        memberID = B24.hex(&r, count: 32)
        rng = r
        for entity in Bitrix24Entity.allCases {
            userFields[entity] = B24Catalog.initialUserFields()
            nextID[entity] = counts[entity, default: 0] + 1
        }
    }

    /// Changes the leaky bucket, the webhook telephony rule, the delivery timeout or the token lifetime (test control).
    public func configure(
        drainPerSecond: Double? = nil, burst: Double? = nil, allowTelephonyViaWebhook: Bool? = nil, deliveryTimeout: Double? = nil,
        accessTokenLifetime: Double? = nil
    ) {
        if let accessTokenLifetime { self.accessTokenLifetime = accessTokenLifetime }
        if let deliveryTimeout { self.deliveryTimeout = deliveryTimeout }
        if let drainPerSecond { self.drainPerSecond = drainPerSecond }
        if let burst { self.burst = burst }
        if let allowTelephonyViaWebhook { self.allowTelephonyViaWebhook = allowTelephonyViaWebhook }
    }

    /// Sets the address clients reach the emulator at (`SandboxServer.withBitrix24` does it).
    public func setBaseURL(_ url: String) { baseURL = url.hasSuffix("/") ? String(url.dropLast()) : url }

    /// The portal's domain as events and tokens name it.
    public var domain: String {
        let withoutScheme = baseURL.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first
        return withoutScheme.map(String.init) ?? baseURL
    }

    /// The highest number of executed requests seen in one second.
    public var maxObservedRate: Int { requestsPerSecond.values.max() ?? 0 }

    /// An answer: HTTP status and JSON body.
    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var body: JSONValue
        public init(status: Int, body: JSONValue) {
            self.status = status
            self.body = body
        }
        static func error(_ status: Int, _ code: String, _ description: String) -> Answer {
            Answer(status: status, body: ["error": .string(code), "error_description": .string(description)])
        }
    }

    /// What one method call produced, before it is wrapped with `time`.
    enum Outcome: Error {
        case ok(JSONValue, total: Int? = nil, next: Int? = nil)
        case fail(Int, String, String)

        static let notFound = Outcome.fail(400, "", "Not found")
    }

    /// Who is calling.
    struct Caller {
        var viaWebhook: Bool
        var userID: Int
        /// The application the caller's token belongs to (`app.info`'s `CODE`); nil for a webhook.
        var app: String? = nil
    }

    /// The next `count` REST requests fail with `status` and this error instead of running (outage drills).
    public func failNext(_ count: Int, status: Int = 503, error: String = "QUERY_LIMIT_EXCEEDED", description: String? = nil) {
        let text = description ?? [
            "QUERY_LIMIT_EXCEEDED": "Too many requests", "OPERATION_TIME_LIMIT": "Method is blocked due to operation time limit",
            "INTERNAL_SERVER_ERROR": "Internal server error",
        ][error] ?? error
        injected += Array(repeating: (status, error, text), count: count)
    }

    /// Handles one HTTP request: `path` below the host, `query` pairs, lower-cased header names, the raw body.
    public func handle(method: String, path: String, query: [(String, String)], headers: [String: String], body: String) -> Answer {
        if baseURL == "https://sandbox.bitrix24.ru", let host = headers["host"], !host.isEmpty { baseURL = "http://\(host)" }
        if path == "/sandbox/state" { return Answer(status: 200, body: state) }
        let params: [String: JSONValue]
        let bodyIsJSON = (headers["content-type"] ?? "").contains("json") || body.first == "{"
        do {
            var merged = try FormURLEncoding.decodeNested(FormURLEncoding.encode(query))
            if !body.isEmpty {
                if bodyIsJSON {
                    guard let object = JSONValue.b24Parse(body)?.objectValue else {
                        return .error(400, "INVALID_REQUEST", "Request body is not valid JSON")
                    }
                    merged.merge(object) { $1 }
                } else {
                    merged.merge(try FormURLEncoding.decodeNested(body)) { $1 }
                }
            }
            params = merged
        } catch {
            return .error(400, "INVALID_REQUEST", "Malformed request")
        }
        if path.hasPrefix("/oauth/token") { return oauthToken(params) }
        guard path.hasPrefix("/rest/") else { return .error(404, "NOT_FOUND", "Not found") }
        return rest(path: String(path.dropFirst("/rest/".count)), params: params, rawBody: body, bodyIsJSON: bodyIsJSON)
    }

    private func rest(path: String, params: [String: JSONValue], rawBody: String, bodyIsJSON: Bool) -> Answer {
        requestCount += 1
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count == 1 || parts.count == 3 else {
            return .error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        }
        var name = parts.last!.lowercased()
        for suffix in [".json", ".xml"] where name.hasSuffix(suffix) { name = String(name.dropLast(suffix.count)) }
        let now = clock()
        guard admit(now) else {
            rejectedCount += 1
            return .error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        }
        let caller: Caller
        if parts.count == 3 {
            guard parts[0] == String(webhookUserID), parts[1] == webhookCode else {
                return .error(401, "NO_AUTH_FOUND", "Wrong authorization data")
            }
            caller = Caller(viaWebhook: true, userID: webhookUserID)
        } else {
            guard let token = B24.text(param(params, "auth")), let grant = accessTokens[token] else {
                return .error(401, "NO_AUTH_FOUND", "Wrong authorization data")
            }
            guard grant.expires > now else { return .error(401, "expired_token", "The access token provided has expired.") }
            caller = Caller(viaWebhook: false, userID: grant.user, app: tokenApps[token] ?? clientID)
        }
        if !injected.isEmpty {
            let failure = injected.removeFirst()
            return .error(failure.status, failure.error, failure.description)
        }
        requestsPerSecond[Int(now.rounded(.down)), default: 0] += 1
        if name == "batch" {
            methodCalls.append("batch")
            return batch(params, rawBody: rawBody, bodyIsJSON: bodyIsJSON, caller: caller, start: now)
        }
        switch call(name, params: params, caller: caller) {
        case .ok(let result, let total, let next):
            var body: [String: JSONValue] = ["result": result, "time": time(start: now)]
            if let total { body["total"] = .number(Double(total)) }
            if let next { body["next"] = .number(Double(next)) }
            return Answer(status: 200, body: .object(body))
        case .fail(let status, let code, let description):
            return .error(status, code, description)
        }
    }

    /// Adds one request to the bucket; `false` when it is full.
    private func admit(_ now: Double) -> Bool {
        if let last = bucketTime { bucketLevel = max(0, bucketLevel - (now - last) * drainPerSecond) }
        bucketTime = now
        guard bucketLevel + 1 <= burst else { return false }
        bucketLevel += 1
        return true
    }

    func time(start: Double) -> JSONValue {
        let finish = clock()
        return [
            "start": .number(start), "finish": .number(finish), "duration": .number(finish - start), "processing": .number(finish - start),
            "date_start": .string(B24.iso(start)), "date_finish": .string(B24.iso(finish)),
            "operating_reset_at": .number((start + 600).rounded(.down)), "operating": 0,
        ]
    }

    /// Runs one method (also a batch sub-call); records it in `methodCalls`.
    func call(_ name: String, params: [String: JSONValue], caller: Caller) -> Outcome {
        let appOnly = name.hasPrefix("event.") || (name.hasPrefix("telephony.") && !allowTelephonyViaWebhook)
        if caller.viaWebhook, appOnly {
            return .fail(400, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method")
        }
        let pieces = name.split(separator: ".").map(String.init)
        if pieces.count == 3, pieces[0] == "crm", let entity = Bitrix24Entity(rawValue: pieces[1]) {
            let known = ["fields", "list", "get", "add", "update", "delete"]
            if known.contains(pieces[2]) { methodCalls.append(name) }
            switch pieces[2] {
            case "fields": return .ok(fieldsMetadata(entity))
            case "list": return list(entity, params)
            case "get": return get(entity, params)
            case "add": return add(entity, params, caller: caller)
            case "update": return update(entity, params, caller: caller)
            case "delete": return delete(entity, params)
            default: break
            }
        }
        let outcome: Outcome
        switch name {
        case "crm.status.list": outcome = statusList(params)
        case "crm.duplicate.findbycomm": outcome = findByComm(params)
        case "crm.category.list": outcome = categoryList(params)
        case "user.get": outcome = userGet(params)
        case "event.bind": outcome = eventBind(params, caller: caller)
        case "event.unbind": outcome = eventUnbind(params)
        case "event.get": outcome = eventGet()
        case "event.offline.get": outcome = offlineGet(params)
        case "event.offline.clear": outcome = offlineClear(params)
        case "app.info": outcome = caller.viaWebhook ? .fail(400, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method") : appInfo(code: caller.app ?? clientID)
        case "telephony.externalcall.register": outcome = register(params)
        case "telephony.externalcall.finish": outcome = finish(params)
        case "telephony.externalcall.attachrecord": outcome = attachRecord(params)
        case "telephony.externalcall.show": outcome = showHide(params, show: true)
        case "telephony.externalcall.hide": outcome = showHide(params, show: false)
        case "telephony.externalline.add": outcome = lineAdd(params)
        case "telephony.externalline.get": outcome = lineGet()
        default: return .fail(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        }
        methodCalls.append(name)
        return outcome
    }

    /// A parameter by name the way Bitrix24 reads them: `filter`, `FILTER` and `Filter` are the same.
    func param(_ params: [String: JSONValue], _ name: String) -> JSONValue? {
        if let value = params[name] ?? params[name.uppercased()] ?? params[name.lowercased()] { return value }
        return params.first { $0.key.lowercased() == name.lowercased() }?.value
    }
}
