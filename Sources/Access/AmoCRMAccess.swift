import AmoCRM
import AsyncHTTPClient
import Foundation
import Jobs
import Storage
import SwitchboardCore

/// A tenant's amoCRM / Kommo account as Switchboard's features reach it: the account's own address
/// (`settings.base_url`), a token from the keeper (OAuth, renewed once for all workers) or a long-lived
/// token, every request paced to 7 per second per account behind the tenant's circuit breaker, and every
/// exchange in the integration log with secrets masked.
public struct AmoCRMAccess: Sendable {
    public let database: Database
    public let tokens: AmoCRMTokenKeeper
    public let rateLimiter: RateLimiter
    public let breakers: CircuitBreakers
    public var httpClient: HTTPClient
    public var timeout: Duration
    public var limit: RateLimit

    public init(
        database: Database, tokens: AmoCRMTokenKeeper, rateLimiter: RateLimiter, breakers: CircuitBreakers, httpClient: HTTPClient = .crm,
        timeout: Duration = .seconds(30), limit: RateLimit = .amocrm
    ) {
        self.database = database
        self.tokens = tokens
        self.rateLimiter = rateLimiter
        self.breakers = breakers
        self.httpClient = httpClient
        self.timeout = timeout
        self.limit = limit
    }

    /// Whether the integration can call the API: a long-lived token, or OAuth tokens from the install flow.
    public static func isConnected(_ integration: Integration) -> Bool {
        !(integration.secrets["long_lived_token"] ?? "").isEmpty || !(integration.secrets["refresh_token"] ?? "").isEmpty
            || !(integration.secrets["access_token"] ?? "").isEmpty
    }

    /// A client for the integration; `event` names its exchanges in the integration log.
    public func client(_ integration: Integration, event: String) throws -> AmoCRMClient {
        guard let base = integration.settings["base_url"]?.stringValue, !base.isEmpty else {
            throw JobFailure.permanent("the amoCRM integration needs settings.base_url (https://yourcompany.amocrm.ru or .kommo.com)")
        }
        guard Self.isConnected(integration) else {
            throw JobFailure.permanent("the amoCRM integration is not connected: authorize it (OAuth) or set secrets.long_lived_token")
        }
        let (tenantID, database, rateLimiter, breakers, limit) = (integration.tenantID, database, rateLimiter, breakers, limit)
        let breakerKey = CircuitBreakers.key(tenantID: tenantID, integration: "amocrm")
        // The limit is the account's, whichever tenant or integration reaches it.
        let limiterKey = "amocrm:" + (URL(string: base)?.host ?? base)
        let hidden = integration.secrets.values.filter { $0.count >= 4 }
        return AmoCRMClient(
            baseURL: base, tokens: tokens.source(integration), httpClient: httpClient, timeout: timeout,
            beforeRequest: {
                guard await breakers.allow(breakerKey) else {
                    throw JobFailure.retryable("amoCRM is failing for this tenant (circuit open); trying again later", retryAfter: .seconds(30))
                }
                try await rateLimiter.acquire(limiterKey, limit: limit)
            },
            observe: { exchange in
                await breakers.record(breakerKey, success: !(exchange.status == 0 || exchange.status >= 500 || exchange.status == 429))
                // Our pace and amoCRM's count drifted apart (another integration on the account): back off.
                if exchange.status == 429 { await rateLimiter.pause(limiterKey, for: .seconds(1)) }
                let entry = IntegrationLogEntry(
                    tenantID: tenantID, integration: "amocrm", event: event, ok: (200..<300).contains(exchange.status),
                    request: SecretMask.redact("\(exchange.method) \(exchange.url)\n\(exchange.request)", hiding: hidden).prefix(4000).description,
                    response: SecretMask.redact(exchange.response, hiding: hidden),
                    error: exchange.status == 0 ? "no answer" : "HTTP \(exchange.status)", duration: exchange.duration)
                try? await IntegrationLogRepository(database).append(entry)
            })
    }

    /// The tenant's lead reading (status map, UTM fields) from its settings; a bad entry fails the job.
    public static func mapping(_ integration: Integration) throws -> AmoCRMLeadMapping {
        do {
            return try AmoCRMLeadMapping(settings: integration.settings)
        } catch let error as SwitchboardError {
            throw JobFailure.permanent(error.message)
        }
    }
}
