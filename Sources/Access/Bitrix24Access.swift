import AsyncHTTPClient
import Bitrix24
import Foundation
import Jobs
import Storage
import SwitchboardCore

/// A tenant's Bitrix24 portal as Switchboard's features reach it: every request paced by the portal's
/// leaky bucket (2 requests/s, burst 50 — a `batch` counts once), behind the tenant's circuit breaker,
/// and logged in the integration log with credentials masked.
public struct Bitrix24Access: Sendable {
    public let database: Database
    /// Installed apps' tokens, renewed before they expire (share one keeper per process).
    public let tokens: Bitrix24TokenKeeper
    public let rateLimiter: RateLimiter
    public let breakers: CircuitBreakers
    public var httpClient: HTTPClient
    /// Per request; Bitrix24 itself cuts a request at 60 s.
    public var timeout: Duration
    /// The portal's limit; an Enterprise plan allows 5/s with a burst of 250.
    public var limit: RateLimit
    /// Per tenant, what packs concurrent single calls into batches (share one set per process).
    public let coalescers: Bitrix24Coalescers

    public init(
        database: Database, tokens: Bitrix24TokenKeeper, rateLimiter: RateLimiter, breakers: CircuitBreakers, httpClient: HTTPClient = .crm,
        timeout: Duration = .seconds(60), limit: RateLimit = .bitrix24, coalescers: Bitrix24Coalescers = Bitrix24Coalescers()
    ) {
        self.coalescers = coalescers
        self.database = database
        self.tokens = tokens
        self.rateLimiter = rateLimiter
        self.breakers = breakers
        self.httpClient = httpClient
        self.timeout = timeout
        self.limit = limit
    }

    /// How an integration reaches its portal.
    public enum Mode: String, Sendable {
        /// An incoming webhook (secret `webhook_url`): CRM reads and writes, no `event.bind`, and real
        /// portals refuse telephony methods to it.
        case webhook
        /// An installed local or marketplace app (OAuth tokens): everything, events and telephony included.
        case app
    }

    /// The integration's mode; an installed app wins over a webhook URL, since it can do more.
    public static func mode(_ integration: Integration) -> Mode? {
        if let endpoint = integration.settings["client_endpoint"]?.stringValue, !endpoint.isEmpty,
            !(integration.secrets["access_token"] ?? "").isEmpty || !(integration.secrets["refresh_token"] ?? "").isEmpty
        {
            return .app
        }
        if let url = integration.secrets["webhook_url"], !url.isEmpty { return .webhook }
        return nil
    }

    /// Where the integration's API is: an installed app's `client_endpoint` (setting) with its tokens, or
    /// its incoming-webhook URL (secret `webhook_url`).
    public func endpoint(_ integration: Integration) throws -> Bitrix24Endpoint {
        switch Self.mode(integration) {
        case .app:
            return .app(clientEndpoint: integration.settings["client_endpoint"]?.stringValue ?? "", tokens: tokens.source(tenantID: integration.tenantID))
        case .webhook:
            return .webhook(url: integration.secrets["webhook_url"] ?? "")
        case nil:
            throw JobFailure.permanent(
                "the Bitrix24 integration has neither secrets.webhook_url (an incoming webhook) nor an installed app (OAuth tokens)")
        }
    }

    /// A client for the integration; `event` names its exchanges in the integration log. A `coalescing`
    /// client's single calls share batch requests with other coalescing calls to the portal (bursts).
    public func client(_ integration: Integration, event: String, coalescing: Bool = false) throws -> Bitrix24Client {
        let client = try plainClient(integration, event: event)
        return coalescing ? client.coalescing(through: coalescers.coalescer(tenantID: integration.tenantID)) : client
    }

    private func plainClient(_ integration: Integration, event: String) throws -> Bitrix24Client {
        let endpoint = try endpoint(integration)
        let (tenantID, database, rateLimiter, breakers, limit) = (integration.tenantID, database, rateLimiter, breakers, limit)
        let breakerKey = CircuitBreakers.key(tenantID: tenantID, integration: "bitrix24")
        let limiterKey = "bitrix24:\(tenantID)"
        // The webhook code is the credential: it must never reach the log, whole or percent-encoded.
        let hidden = integration.secrets.values.filter { $0.count >= 4 }
            + [Self.webhookCode(integration.secrets["webhook_url"] ?? "")].compactMap { $0 }
        return Bitrix24Client(
            endpoint: endpoint, httpClient: httpClient, timeout: timeout,
            beforeRequest: {
                guard await breakers.allow(breakerKey) else {
                    throw JobFailure.retryable("Bitrix24 is failing for this tenant (circuit open); trying again later", retryAfter: .seconds(30))
                }
                try await rateLimiter.acquire(limiterKey, limit: limit)
            },
            observe: { exchange in
                let outage = exchange.status == 0 || exchange.status >= 500 || exchange.status == 429
                await breakers.record(breakerKey, success: !outage || exchange.response.contains("QUERY_LIMIT_EXCEEDED"))
                // Our bucket and the portal's drifted apart (another app on the portal): wait for it to drain.
                if exchange.response.contains("QUERY_LIMIT_EXCEEDED") { await rateLimiter.pause(limiterKey, for: .seconds(2)) }
                let ok = (200..<300).contains(exchange.status)
                let entry = IntegrationLogEntry(
                    tenantID: tenantID, integration: "bitrix24", event: event, ok: ok,
                    request: SecretMask.redact("\(exchange.method)\n\(exchange.request)", hiding: hidden),
                    response: SecretMask.redact(exchange.response, hiding: hidden),
                    error: exchange.status == 0 ? "no answer" : "HTTP \(exchange.status)", duration: exchange.duration)
                try? await IntegrationLogRepository(database).append(entry)
            })
    }

    /// The secret code of an incoming-webhook URL (`…/rest/1/<code>/`).
    static func webhookCode(_ url: String) -> String? {
        let parts = url.split(separator: "/").map(String.init)
        guard let rest = parts.firstIndex(of: "rest"), rest + 2 < parts.count else { return nil }
        let code = parts[rest + 2]
        return code.count >= 4 && !code.contains(".") ? code : nil
    }
}
