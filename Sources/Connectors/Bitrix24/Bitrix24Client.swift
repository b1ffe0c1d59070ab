import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore

/// Where a portal's REST API is and how requests prove who they are.
public enum Bitrix24Endpoint: Sendable {
    /// An incoming webhook, `https://portal.bitrix24.ru/rest/1/abc123/`: the code in the path is the credential.
    case webhook(url: String)
    /// A local or marketplace app: `client_endpoint` from the OAuth answer plus its access tokens, which
    /// expire every hour and are renewed by `tokens`.
    case app(clientEndpoint: String, tokens: any Bitrix24TokenSource)

    /// An app with a fixed access token (tests, one-off calls with a token an event carried).
    public static func app(clientEndpoint: String, accessToken: String) -> Bitrix24Endpoint {
        .app(clientEndpoint: clientEndpoint, tokens: Bitrix24FixedToken(accessToken))
    }

    /// The base every method name is appended to, ending in `/`.
    var base: String {
        var base: String
        switch self {
        case .webhook(let url): base = url
        case .app(let endpoint, _): base = endpoint
        }
        base = base.trimmingCharacters(in: .whitespaces)
        if base.hasSuffix(".json") { base = String(base[..<(base.lastIndex(of: "/") ?? base.endIndex)]) }
        return base.hasSuffix("/") ? base : base + "/"
    }
}

/// One request and its answer, for the integration log (credentials masked by whoever records it).
public struct Bitrix24Exchange: Sendable {
    public var method: String
    public var request: String
    public var status: Int
    public var response: String
    public var duration: Duration
}

/// What a method answered: `result`, and for lists `total` / `next`.
public struct Bitrix24Answer: Sendable {
    public var result: JSONValue
    public var total: Int?
    public var next: Int?
}

/// One command of a `batch`.
public struct Bitrix24Command: Sendable {
    public var key: String
    public var method: String
    public var params: [String: JSONValue]

    public init(key: String, method: String, params: [String: JSONValue]) {
        self.key = key
        self.method = method
        self.params = params
    }

    /// `method?params` as `batch` takes it (PHP bracket query string).
    var query: String { params.isEmpty ? method : method + "?" + FormURLEncoding.encodeNested(params) }
}

/// Bitrix24 REST client: JSON POST bodies, errors parsed, `batch` of up to 50 commands.
public struct Bitrix24Client: Sendable {
    public let endpoint: Bitrix24Endpoint
    let httpClient: HTTPClient
    let timeout: Duration
    let beforeRequest: @Sendable () async throws -> Void
    let observe: @Sendable (Bitrix24Exchange) async -> Void
    /// When set, single calls made at the same time travel together in `batch` requests.
    public private(set) var coalescer: Bitrix24Coalescer?

    /// The most commands one `batch` may hold.
    public static let maxBatchCommands = 50

    /// - Parameters:
    ///   - beforeRequest: awaited before every HTTP request (the portal's rate limit: a batch counts once).
    ///   - timeout: per request; Bitrix24 itself cuts a request at 60 s.
    public init(
        endpoint: Bitrix24Endpoint, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(60),
        beforeRequest: @escaping @Sendable () async throws -> Void = {},
        observe: @escaping @Sendable (Bitrix24Exchange) async -> Void = { _ in }
    ) {
        self.endpoint = endpoint
        self.httpClient = httpClient
        self.timeout = timeout
        self.beforeRequest = beforeRequest
        self.observe = observe
    }

    /// This client, with its single calls packed into batches together with other tasks' calls to the portal.
    public func coalescing(through coalescer: Bitrix24Coalescer) -> Bitrix24Client {
        var client = self
        client.coalescer = coalescer
        return client
    }

    /// Calls one method (inside a batch with other callers' calls when the client is coalescing).
    public func call(_ method: String, _ params: [String: JSONValue] = [:]) async throws -> Bitrix24Answer {
        if let coalescer, Bitrix24Coalescer.canBatch(method, params) { return try await coalescer.submit(method, params, via: self) }
        return try await callDirect(method, params)
    }

    /// Calls one method in a request of its own.
    func callDirect(_ method: String, _ params: [String: JSONValue]) async throws -> Bitrix24Answer {
        let object = try await send(method, params)
        return Bitrix24Answer(result: object["result"] ?? .null, total: object["total"]?.intValue, next: object["next"]?.intValue)
    }

    /// What a batch answered, per command key.
    public struct BatchAnswer: Sendable {
        public var results: [String: JSONValue]
        public var errors: [String: Bitrix24Error]
        public var totals: [String: Int]
        public var nexts: [String: Int]
    }

    /// Runs up to 50 commands in one request; later commands may use `$result[key][…]` of earlier ones.
    /// A failing command's error is in `errors` (with `halt`, the rest are not run).
    public func batch(_ commands: [Bitrix24Command], halt: Bool = false) async throws -> BatchAnswer {
        precondition(commands.count <= Self.maxBatchCommands, "a batch holds at most 50 commands")
        var cmd: [String: JSONValue] = [:]
        for command in commands { cmd[command.key] = .string(command.query) }
        let object = try await send("batch", ["halt": .number(halt ? 1 : 0), "cmd": .object(cmd)])
        // Empty containers come back as `[]`, not `{}`.
        let body = object["result"]?.objectValue ?? [:]
        func members(_ name: String) -> [String: JSONValue] { body[name]?.objectValue ?? [:] }
        var errors: [String: Bitrix24Error] = [:]
        for (key, value) in members("result_error") {
            let fields = value.objectValue ?? [:]
            let code = fields["error"]?.stringValue ?? ""
            errors[key] = Bitrix24Error(status: Self.batchErrorStatus(code), code: code, message: fields["error_description"]?.stringValue ?? "")
        }
        return BatchAnswer(
            results: members("result"), errors: errors, totals: members("result_total").compactMapValues(\.intValue),
            nexts: members("result_next").compactMapValues(\.intValue))
    }

    /// The status a command's error would have had alone (a batch reports only the code), so retrying
    /// and failing work the same inside a batch as outside.
    static func batchErrorStatus(_ code: String) -> Int {
        switch code {
        case "QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT": 503
        case "INTERNAL_SERVER_ERROR", "ERROR_UNEXPECTED_ANSWER": 500
        case "expired_token", "invalid_token", "NO_AUTH_FOUND": 401
        case "ACCESS_DENIED", "insufficient_scope": 403
        case "ERROR_NOT_FOUND", "NOT_FOUND": 404
        default: 400
        }
    }

    // MARK: transport

    /// Pauses before repeating a request the portal's leaky bucket refused. Such a request was never run,
    /// so repeating it is safe; a pacer that matches the bucket exactly still loses a race at its edge now
    /// and then (the portal's clock is not ours).
    static let rateLimitRetryDelays: [Duration] = [.milliseconds(600), .milliseconds(1200)]

    private func send(_ method: String, _ params: [String: JSONValue]) async throws -> [String: JSONValue] {
        for delay in Self.rateLimitRetryDelays {
            do {
                return try await sendOnce(method, params)
            } catch let error as Bitrix24Error where error.isRateLimited {
                try await Task.sleep(for: delay)
            }
        }
        return try await sendOnce(method, params)
    }

    private func sendOnce(_ method: String, _ params: [String: JSONValue]) async throws -> [String: JSONValue] {
        guard case .app(_, let tokens) = endpoint else { return try await exchange(method, params) }
        let token = try await tokens.accessToken()
        do {
            return try await exchange(method, params, token: token)
        } catch let error as Bitrix24Error where error.isExpiredToken {
            // Access tokens live an hour; a long sync outlives several.
            return try await exchange(method, params, token: try await tokens.renewedToken(rejecting: token))
        }
    }

    private func exchange(_ method: String, _ params: [String: JSONValue], token: String? = nil) async throws -> [String: JSONValue] {
        var body = params
        if let token { body["auth"] = .string(token) }
        let json = JSONValue.object(body).jsonText
        var request = HTTPClientRequest(url: endpoint.base + method)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        try await beforeRequest()
        let started = ContinuousClock.now
        // Logged without the access token.
        let shown = token == nil ? json : JSONValue.object(params).jsonText
        let logged = shown.count > 4000 ? String(shown.prefix(4000)) + "…" : shown
        let answer: (status: Int, data: Data)
        do {
            answer = try await Self.send(request, httpClient: httpClient, timeout: timeout, limit: 64 << 20, server: "Bitrix24")
        } catch let error as Bitrix24Error {
            await observe(.init(method: method, request: logged, status: 0, response: error.message, duration: ContinuousClock.now - started))
            throw error
        }
        await observe(.init(method: method, request: logged, status: answer.status,
                            response: String(decoding: answer.data.prefix(4000), as: UTF8.self), duration: ContinuousClock.now - started))
        return try Self.object(answer)
    }

    /// Sends `request`; no answer (refused, timeout) is a `Bitrix24Error` with status 0 naming `server`.
    static func send(
        _ request: HTTPClientRequest, httpClient: HTTPClient, timeout: Duration, limit: Int, server: String
    ) async throws -> (status: Int, data: Data) {
        do {
            let response = try await httpClient.execute(request, timeout: TimeAmount(timeout))
            return (Int(response.status.code), Data(try await response.body.collect(upTo: limit).readableBytesView))
        } catch {
            throw Bitrix24Error(status: 0, code: "", message: "no answer from \(server): \(error)")
        }
    }

    /// The JSON object of a successful answer; otherwise Bitrix24's `error` / `error_description` as a `Bitrix24Error`.
    static func object(_ answer: (status: Int, data: Data)) throws -> [String: JSONValue] {
        let object = JSONValue(jsonText: String(decoding: answer.data, as: UTF8.self))?.objectValue
        if let object, (200..<300).contains(answer.status), object["error"] == nil { return object }
        throw Bitrix24Error(
            status: answer.status, code: object?["error"]?.stringValue ?? "",
            message: object?["error_description"]?.stringValue ?? (object == nil ? "HTTP \(answer.status) with a body that is not JSON" : ""))
    }
}
