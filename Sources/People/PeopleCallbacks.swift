import AsyncHTTPClient
import Foundation
import Jobs
import NIOCore
import Storage
import SwitchboardCore

/// The seed's reply queue as an HTTP callback: each success or failure from the feed is POSTed to the
/// tenant's `callback_url`, signed `X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, body)>`,
/// and retried with backoff until the app answers 2xx.
public struct PeopleCallbacks: Sendable {
    public static let kind = "people.callback"
    public let database: Database
    public let secrets: SecretBox
    public var httpClient: HTTPClient = .shared

    public init(database: Database, secrets: SecretBox) {
        self.database = database
        self.secrets = secrets
    }

    static func job(tenantID: String, seq: Int64) -> JobQueue.NewJob {
        .init(
            kind: kind, tenantID: tenantID, payload: ["seq": .number(Double(seq))], priority: 60, maxAttempts: 10,
            uniqueKey: "people-callback:\(tenantID):\(seq)")
    }

    /// `sha256=` + the hex HMAC-SHA256 of `body` with `secret`: what the app recomputes to trust a callback.
    public static func signature(body: String, secret: String) -> String {
        "sha256=" + Identifiers.hmacSHA256Hex(body, key: secret)
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(Self.kind, policy: .standard, timeout: .seconds(30)) { context in
            guard let tenantID = context.job.tenantID, let seq = context.job.payload.objectValue?["seq"]?.intValue else {
                throw JobFailure.permanent("\(Self.kind) needs a tenant and payload.seq")
            }
            let (settings, secret) = try await PeopleSettingsRepository(database, secrets: secrets).load(tenantID: tenantID)
            guard let url = settings.callbackURL else { return ["skipped": "no callback_url"] }
            guard let event = try await PeopleFeedRepository(database).list(tenantID: tenantID, since: Int64(seq) - 1, limit: 1).first,
                event.seq == Int64(seq)
            else { throw JobFailure.permanent("feed event \(seq) is gone") }
            var body = event.body.objectValue ?? [:]
            body["seq"] = .number(Double(event.seq))
            body["type"] = .string(event.type)
            let text = JSONValue.object(body).jsonText
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Switchboard-Event", value: event.type)
            request.headers.add(name: "X-Switchboard-Delivery", value: "\(tenantID):\(event.seq)")
            if let secret { request.headers.add(name: "X-Switchboard-Signature", value: Self.signature(body: text, secret: secret)) }
            request.body = .bytes(ByteBuffer(string: text))
            let response: HTTPClientResponse
            do {
                response = try await httpClient.execute(request, timeout: .seconds(10))
            } catch {
                throw JobFailure.retryable("callback to \(URL(string: url)?.host ?? url) failed: \(error)")
            }
            guard (200..<300).contains(Int(response.status.code)) else {
                throw JobFailure.retryable("callback answered HTTP \(response.status.code)")
            }
            return ["delivered": .number(Double(event.seq)), "status": .number(Double(response.status.code))]
        }
    }
}
