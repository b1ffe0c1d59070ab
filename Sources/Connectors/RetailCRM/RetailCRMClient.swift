import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SwitchboardCore

/// An error RetailCRM answered with (`{"success":false,"errorMsg":…,"errors":{…}}`), or a transport failure.
public struct RetailCRMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status; 0 when no answer came (timeout, refused connection).
    public var status: Int
    public var message: String
    /// Field → message, as RetailCRM lists validation errors.
    public var errors: [String: String]
    public var retryAfter: Duration?

    public init(status: Int, message: String, errors: [String: String] = [:], retryAfter: Duration? = nil) {
        self.status = status
        self.message = message
        self.errors = errors
        self.retryAfter = retryAfter
    }

    public var description: String {
        errors.isEmpty ? message : message + " (" + errors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ") + ")"
    }

    /// Timeouts, refused connections, 429, 5xx (RetailCRM's rate limit is a 503) are worth retrying.
    public var isRetryable: Bool { status == 0 || status == 408 || status == 429 || status >= 500 }
}

/// One request and its answer, for the integration log (the API key travels in a header and is never part of it).
public struct RetailCRMExchange: Sendable {
    public var method: String
    public var path: String
    public var request: String
    public var status: Int
    public var response: String
    public var duration: Duration
}

/// RetailCRM API v5 client: `X-API-KEY` auth, form-encoded POST bodies with nested objects as JSON
/// strings in one field (RetailCRM refuses nested form keys), strict timeouts, errors parsed.
public struct RetailCRMClient: Sendable {
    public let baseURL: String
    let apiKey: String
    let httpClient: HTTPClient
    let timeout: Duration
    let observe: @Sendable (RetailCRMExchange) async -> Void

    /// - Parameters:
    ///   - baseURL: the account URL, e.g. `https://acme.retailcrm.ru` (a trailing `/` or `/api/v5` is accepted).
    ///   - timeout: per request; telephony calls must not hold a worker for long.
    public init(
        baseURL: String, apiKey: String, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(3),
        observe: @escaping @Sendable (RetailCRMExchange) async -> Void = { _ in }
    ) {
        var base = baseURL.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/api/v5") { base.removeLast(7) }
        self.baseURL = base
        self.apiKey = apiKey
        self.httpClient = httpClient
        self.timeout = timeout
        self.observe = observe
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    // MARK: telephony

    /// Shows or closes the call card (`POST telephony/call/event`).
    public func sendCallEvent(_ event: RetailCRMCallEvent) async throws {
        _ = try await post("telephony/call/event", form: [("event", try Self.json(event))])
    }

    /// Uploads finished calls (`POST telephony/calls/upload`), at most 50 per request.
    public func uploadCalls(_ calls: [RetailCRMCall]) async throws -> RetailCRMUploadResult {
        precondition(calls.count <= RetailCRMCall.maxPerUpload, "split uploads into batches of 50")
        let data = try await post("telephony/calls/upload", form: [("calls", try Self.json(calls))])
        return (try? JSONDecoder().decode(RetailCRMUploadResult.self, from: data)) ?? RetailCRMUploadResult()
    }

    /// The responsible manager of the customer with this phone, if RetailCRM knows one.
    public func responsibleManager(phone: String) async throws -> RetailCRMResponsibleManager? {
        do {
            let data = try await get("telephony/manager", query: [("phone", phone), ("details", "1"), ("ignoreStatus", "1")])
            return try JSONDecoder().decode(RetailCRMResponsibleManager.self, from: data)
        } catch let error as RetailCRMError where error.status == 404 {
            return nil
        }
    }

    // MARK: module, users, tasks

    /// Registers or updates the telephony module (`POST integration-modules/{code}/edit`).
    public func editModule(_ module: RetailCRMIntegrationModule) async throws {
        _ = try await post("integration-modules/\(module.code)/edit", form: [("integrationModule", try Self.json(module))])
    }

    /// The extensions a registered module holds (`GET integration-modules/{code}`), read leniently: nil
    /// when the module does not exist.
    public func moduleAdditionalCodes(code: String) async throws -> [RetailCRMIntegrationModule.Telephony.AdditionalCode]? {
        struct Answer: Decodable {
            struct Module: Decodable {
                struct Integrations: Decodable {
                    struct Telephony: Decodable { var additionalCodes: [RetailCRMIntegrationModule.Telephony.AdditionalCode]? }
                    var telephony: Telephony?
                }
                var integrations: Integrations?
            }
            var integrationModule: Module?
        }
        do {
            let data = try await get("integration-modules/\(code)", query: [])
            guard let module = try JSONDecoder().decode(Answer.self, from: data).integrationModule else { return nil }
            return module.integrations?.telephony?.additionalCodes ?? []
        } catch let error as RetailCRMError where error.status == 404 {
            return nil
        }
    }

    /// One page of the account's users (managers).
    public func users(page: Int = 1, limit: Int = 100) async throws -> (users: [RetailCRMUser], totalPages: Int) {
        struct Page: Decodable {
            struct Pagination: Decodable { var totalPageCount: Int? }
            var users: [RetailCRMUser]
            var pagination: Pagination?
        }
        let data = try await get("users", query: [("page", String(page)), ("limit", String(limit))])
        let decoded = try JSONDecoder().decode(Page.self, from: data)
        return (decoded.users, decoded.pagination?.totalPageCount ?? 1)
    }

    /// Every user, page by page.
    public func allUsers() async throws -> [RetailCRMUser] {
        var all: [RetailCRMUser] = []
        var page = 1
        while page <= 100 {
            let (users, total) = try await users(page: page)
            all += users
            guard page < total else { break }
            page += 1
        }
        return all
    }

    /// Creates a task; returns its id.
    public func createTask(_ task: RetailCRMTask) async throws -> Int {
        struct Created: Decodable { var id: Int }
        let data = try await post("tasks/create", form: [("task", try Self.json(task))])
        return try JSONDecoder().decode(Created.self, from: data).id
    }

    /// Checks the key: `GET /api/credentials` lists what the key may do.
    public func credentials() async throws -> [String] {
        struct Answer: Decodable { var credentials: [String]? }
        let data = try await send(.GET, path: "/api/credentials", query: [], body: nil)
        return (try JSONDecoder().decode(Answer.self, from: data)).credentials ?? []
    }

    // MARK: transport

    func post(_ method: String, form: [(String, String)]) async throws -> Data {
        try await send(.POST, path: "/api/v5/" + method, query: [], body: FormURLEncoding.encode(form))
    }

    func get(_ method: String, query: [(String, String)]) async throws -> Data {
        try await send(.GET, path: "/api/v5/" + method, query: query, body: nil)
    }

    private func send(_ method: HTTPMethod, path: String, query: [(String, String)], body: String?) async throws -> Data {
        let url = baseURL + path + (query.isEmpty ? "" : "?" + FormURLEncoding.encode(query))
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "X-API-KEY", value: apiKey)
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let started = ContinuousClock.now
        let logged = path + (query.isEmpty ? "" : "?" + FormURLEncoding.encode(query))
        do {
            let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(timeout.wholeMicroseconds) * 1000))
            let bytes = try await response.body.collect(upTo: 8 << 20)
            let data = Data(bytes.readableBytesView)
            let status = Int(response.status.code)
            await observe(.init(method: method.rawValue, path: logged, request: body ?? "", status: status,
                                response: String(decoding: data.prefix(4000), as: UTF8.self), duration: ContinuousClock.now - started))
            let answer = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            if (200..<300).contains(status), answer?["success"] as? Bool != false { return data }
            throw RetailCRMError(
                status: status, message: answer?["errorMsg"] as? String ?? "HTTP \(status)",
                errors: Self.errors(answer?["errors"]),
                retryAfter: response.headers.first(name: "Retry-After").flatMap(Int.init).map { .seconds($0) })
        } catch let error as RetailCRMError {
            throw error
        } catch {
            await observe(.init(method: method.rawValue, path: logged, request: body ?? "", status: 0,
                                response: "\(error)", duration: ContinuousClock.now - started))
            throw RetailCRMError(status: 0, message: "no answer from RetailCRM: \(error)", errors: [:], retryAfter: nil)
        }
    }

    /// RetailCRM sends `errors` as a field → message object, or as a list of messages.
    static func errors(_ value: Any?) -> [String: String] {
        if let object = value as? [String: Any] { return object.mapValues { "\($0)" } }
        if let list = value as? [Any] {
            return Dictionary(uniqueKeysWithValues: list.enumerated().map { (String($0.offset), "\($0.element)") })
        }
        return [:]
    }
}
