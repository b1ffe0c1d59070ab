import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore

/// An error amoCRM answered with: `application/problem+json` (`title`, `detail`, `status`, and for 400 the
/// `validation-errors` with each field's `path`), a 429 with a body that is not JSON, or no answer at all.
public struct AmoCRMError: JobFailureConvertible, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status; 0 when no answer came.
    public var status: Int
    public var title: String
    public var detail: String
    /// `(path, code, detail)` per invalid field of a 400, e.g. `custom_fields_values.0.field_id`.
    public var fields: [Field]

    public struct Field: Sendable, Equatable {
        public var path: String
        public var code: String
        public var detail: String
    }

    public init(status: Int, title: String, detail: String, fields: [Field]) {
        self.status = status
        self.title = title
        self.detail = detail
        self.fields = fields
    }

    /// What amoCRM said: title, detail and each invalid field.
    public var summary: String {
        var text = [title, detail].filter { !$0.isEmpty }.joined(separator: ": ")
        if !fields.isEmpty { text += " (" + fields.map { "\($0.path): \($0.detail)" }.joined(separator: "; ") + ")" }
        return text
    }

    public var description: String { "HTTP \(status)" + (summary.isEmpty ? "" : " \(summary)") }

    /// 429 (over 7 requests/s), 5xx and no answer are worth repeating; 401 means the token must be renewed
    /// (the caller does that); other 4xx are the request's fault.
    public var jobFailure: JobFailure {
        status == 0 ? .retryable("amoCRM: \(summary)") : JobFailure.http(status: status, message: "amoCRM \(summary)")
    }

    static func from(status: Int, body: Data) -> AmoCRMError {
        guard let object = JSONValue(jsonText: String(decoding: body, as: UTF8.self))?.objectValue else {
            // amoCRM's 429 (and its proxies' 5xx) carry no JSON.
            return AmoCRMError(status: status, title: status == 429 ? "Too Many Requests" : "", detail: "", fields: [])
        }
        var fields: [Field] = []
        for group in object["validation-errors"]?.arrayValue ?? [] {
            for error in group.objectValue?["errors"]?.arrayValue ?? [] {
                let item = error.objectValue ?? [:]
                fields.append(Field(path: item["path"]?.scalarText ?? "", code: item["code"]?.scalarText ?? "", detail: item["detail"]?.scalarText ?? ""))
            }
        }
        return AmoCRMError(
            status: status, title: object["title"]?.scalarText ?? "", detail: object["detail"]?.scalarText ?? object["hint"]?.scalarText ?? "",
            fields: fields)
    }
}

/// One request to amoCRM and its answer, for the integration log (the caller masks secrets; the bearer
/// token is never part of it).
public struct AmoCRMExchange: Sendable {
    public var method: String
    public var url: String
    public var request: String
    /// 0 when no answer came.
    public var status: Int
    public var response: String
    public var duration: Duration
}

/// Where an amoCRM client gets its bearer token: an OAuth token its keeper renews, or a long-lived token.
public protocol AmoCRMTokenSource: Sendable {
    func accessToken() async throws -> String
    /// A token other than `rejected`, which amoCRM answered 401 to (renewed, or failing when it cannot be).
    func renewedToken(rejecting rejected: String) async throws -> String
    /// False when a 401 is final (a long-lived token): the client then passes amoCRM's own answer on.
    var canRenew: Bool { get }
}

/// A token that never changes (a long-lived token, a test's token): a 401 is final.
public struct FixedAmoCRMToken: AmoCRMTokenSource {
    public let token: String
    public init(_ token: String) { self.token = token }
    public var canRenew: Bool { false }
    public func accessToken() async throws -> String { token }
    public func renewedToken(rejecting rejected: String) async throws -> String {
        throw AmoCRMError(status: 401, title: "Unauthorized", detail: "amoCRM refused the long-lived token; issue a new one in the account's integration settings", fields: [])
    }
}

/// amoCRM / Kommo API v4 client: bearer token (renewed once on a 401), HAL lists paged by `_links.next`
/// (an empty page is a **204 with no body**), `limit` up to 250, problem+json errors parsed. The base URL is
/// the account's (`https://{subdomain}.amocrm.ru` or `.kommo.com`) and comes from configuration.
public struct AmoCRMClient: Sendable {
    public let baseURL: String
    let tokens: any AmoCRMTokenSource
    let httpClient: HTTPClient
    let timeout: Duration
    let beforeRequest: @Sendable () async throws -> Void
    let observe: @Sendable (AmoCRMExchange) async -> Void

    /// The most records one page may hold.
    public static let maxPageSize = 250

    /// - Parameters:
    ///   - tokens: where the access token comes from.
    ///   - beforeRequest: awaited before every request (the account's 7 requests/s limit, its breaker).
    ///   - observe: told of every exchange (the integration log, the breaker).
    public init(
        baseURL: String, tokens: any AmoCRMTokenSource, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(30),
        beforeRequest: @escaping @Sendable () async throws -> Void = {}, observe: @escaping @Sendable (AmoCRMExchange) async -> Void = { _ in }
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.httpClient = httpClient
        self.timeout = timeout
        self.tokens = tokens
        self.beforeRequest = beforeRequest
        self.observe = observe
    }

    /// A client with a fixed token (a long-lived token).
    public init(baseURL: String, token: String, httpClient: HTTPClient = .shared) {
        self.init(baseURL: baseURL, tokens: FixedAmoCRMToken(token), httpClient: httpClient)
    }

    /// GET of one resource; nil when amoCRM answers 204 (nothing there).
    public func get(_ path: String, query: [(String, String)] = []) async throws -> [String: JSONValue]? {
        let url = baseURL + path + (query.isEmpty ? "" : "?" + FormURLEncoding.encode(query))
        return try await send(url: url, method: .GET, body: nil)
    }

    /// POST or PATCH of a JSON body (amoCRM takes arrays of records for batch writes).
    public func send(_ method: HTTPMethod, _ path: String, body: JSONValue) async throws -> [String: JSONValue]? {
        try await send(url: baseURL + path, method: method, body: body)
    }

    /// Reads every page of a list (`/api/v4/leads`, records under `_embedded.<embedded>`), `limit` records at
    /// a time, calling `page` with each; follows `_links.next` until there is none or a page is empty (204).
    /// A `next` link to another host is not followed: the token must not leave the account.
    public func pages(
        _ path: String, embedded: String, query: [(String, String)] = [], limit: Int = maxPageSize,
        _ page: ([JSONValue]) async throws -> Void
    ) async throws {
        var url: String? = baseURL + path + "?" + FormURLEncoding.encode(query + [("limit", String(min(max(limit, 1), Self.maxPageSize))), ("page", "1")])
        while let current = url {
            guard let object = try await send(url: current, method: .GET, body: nil) else { return }
            let records = Self.embedded(object, embedded)
            if records.isEmpty { return }
            try await page(records)
            url = try nextURL(object)
        }
    }

    /// One page of a list: its records and whether amoCRM links a next page.
    public func page(_ path: String, embedded: String, query: [(String, String)]) async throws -> (records: [JSONValue], hasNext: Bool) {
        guard let object = try await get(path, query: query) else { return ([], false) }
        return (Self.embedded(object, embedded), try nextURL(object) != nil)
    }

    /// The records under `_embedded.<name>`.
    public static func embedded(_ object: [String: JSONValue], _ name: String) -> [JSONValue] {
        object["_embedded"]?.objectValue?[name]?.arrayValue ?? []
    }

    func nextURL(_ object: [String: JSONValue]) throws -> String? {
        guard let href = object["_links"]?.objectValue?["next"]?.objectValue?["href"]?.stringValue else { return nil }
        guard let next = URL(string: href), let base = URL(string: baseURL), next.host == base.host, next.port == base.port, next.scheme == base.scheme else {
            throw AmoCRMError(status: 502, title: "Bad Gateway", detail: "amoCRM's next page points to another host (\(URL(string: href)?.host ?? href))", fields: [])
        }
        return href
    }

    /// One HTTP exchange: the status and up to `limit` bytes of body; no answer is an ``AmoCRMError`` with status 0.
    static func execute(_ request: HTTPClientRequest, httpClient: HTTPClient, timeout: Duration, limit: Int, server: String) async throws -> (Int, Data) {
        do {
            let response = try await httpClient.execute(request, timeout: TimeAmount(timeout))
            return (Int(response.status.code), Data(try await response.body.collect(upTo: limit).readableBytesView))
        } catch {
            throw AmoCRMError(status: 0, title: "", detail: "no answer from \(server): \(error)", fields: [])
        }
    }

    private func send(url: String, method: HTTPMethod, body: JSONValue?) async throws -> [String: JSONValue]? {
        let token = try await tokens.accessToken()
        do {
            return try await send(url: url, method: method, body: body, token: token)
        } catch let error as AmoCRMError where error.status == 401 && tokens.canRenew {
            // An access token can die before its time (revoked, renewed elsewhere): one retry with a new one.
            return try await send(url: url, method: method, body: body, token: try await tokens.renewedToken(rejecting: token))
        }
    }

    private func send(url: String, method: HTTPMethod, body: JSONValue?, token: String) async throws -> [String: JSONValue]? {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/hal+json, application/json")
        let text = body?.jsonText
        if let text {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: text))
        }
        try await beforeRequest()
        let started = ContinuousClock.now
        let status: Int
        let data: Data
        do {
            (status, data) = try await Self.execute(request, httpClient: httpClient, timeout: timeout, limit: 32 << 20, server: "amoCRM")
        } catch let error as AmoCRMError {
            await observe(AmoCRMExchange(
                method: method.rawValue, url: url, request: text ?? "", status: 0, response: error.detail, duration: ContinuousClock.now - started))
            throw error
        }
        await observe(AmoCRMExchange(
            method: method.rawValue, url: url, request: text ?? "", status: status, response: String(decoding: data.prefix(16_384), as: UTF8.self),
            duration: ContinuousClock.now - started))
        if status == 204 { return nil }
        guard (200..<300).contains(status) else { throw AmoCRMError.from(status: status, body: data) }
        switch JSONValue(jsonText: String(decoding: data, as: UTF8.self)) {
        case .object(let object): return object
        case .array(let items): return ["_items": .array(items)]  // `/leads/complex` answers a bare array
        default: throw AmoCRMError(status: status, title: "", detail: "HTTP \(status) with a body that is not JSON", fields: [])
        }
    }
}
