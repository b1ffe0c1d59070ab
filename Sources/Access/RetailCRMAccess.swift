import Foundation
import Jobs
import RetailCRM
import Storage
import SwitchboardCore

/// A tenant's RetailCRM account as Switchboard's features reach it: a client whose every exchange lands
/// in the integration log, and requests paced by the tenant's rate limit (10/s, telephony 40/s) behind
/// the tenant's circuit breaker. Failures come out as ``JobFailure``s, ready for the job runner.
public struct RetailCRMAccess: Sendable {
    public let database: Database
    public let secrets: SecretBox
    public let rateLimiter: RateLimiter
    public let breakers: CircuitBreakers
    /// Per request; a call must not hold a worker (or a ringing caller) for long.
    public var timeout: Duration

    public init(database: Database, secrets: SecretBox, rateLimiter: RateLimiter, breakers: CircuitBreakers, timeout: Duration = .seconds(3)) {
        self.database = database
        self.secrets = secrets
        self.rateLimiter = rateLimiter
        self.breakers = breakers
        self.timeout = timeout
    }

    /// A client for the integration; `event` names its exchanges in the integration log.
    public func client(_ integration: Integration, event: String, timeout: Duration? = nil) -> RetailCRMClient {
        let (tenantID, database) = (integration.tenantID, database)
        let hidden = integration.secrets.values.filter { $0.count >= 4 }
        return RetailCRMClient(
            baseURL: integration.settings["base_url"]?.stringValue ?? "", apiKey: integration.secrets["api_key"] ?? "",
            timeout: timeout ?? self.timeout
        ) { exchange in
            var exchange = exchange
            exchange.request = SecretMask.redact(exchange.request, hiding: hidden)
            exchange.response = SecretMask.redact(exchange.response, hiding: hidden)
            await Self.log(exchange, tenantID: tenantID, event: event, database: database)
        }
    }

    /// Which of RetailCRM's two limits a request counts against.
    public enum Lane: String, Sendable {
        case api, telephony
        var limit: RateLimit { self == .telephony ? .retailcrmTelephony : .retailcrm }
    }

    /// One request behind the tenant's breaker and rate limit; RetailCRM's answers become job failures
    /// (retryable for outages, 429 and 503; permanent for refused input).
    public func guarded<R: Sendable>(tenantID: String, lane: Lane, _ request: () async throws -> R) async throws -> R {
        let breakerKey = CircuitBreakers.key(tenantID: tenantID, integration: "retailcrm")
        guard await breakers.allow(breakerKey) else {
            throw JobFailure.retryable("RetailCRM is failing for this tenant (circuit open); trying again later", retryAfter: .seconds(30))
        }
        let limiterKey = "retailcrm:\(tenantID):\(lane.rawValue)"
        try await rateLimiter.acquire(limiterKey, limit: lane.limit)
        do {
            let result = try await request()
            await breakers.record(breakerKey, success: true)
            return result
        } catch let error as RetailCRMError {
            // A refused request still shows RetailCRM is up; only outages count towards opening the circuit.
            await breakers.record(breakerKey, success: !error.isRetryable)
            if error.status == 503 || error.status == 429 { await rateLimiter.pause(limiterKey, for: error.retryAfter ?? .seconds(1)) }
            if error.status == 0 { throw JobFailure.retryable(error.description, retryAfter: nil) }
            throw JobFailure.http(status: error.status, message: error.description, retryAfter: error.retryAfter)
        }
    }

    static func log(_ exchange: RetailCRMExchange, tenantID: String, event: String, database: Database) async {
        let ok = (200..<300).contains(exchange.status)
        let entry = IntegrationLogEntry(
            tenantID: tenantID, integration: "retailcrm", event: event, ok: ok,
            request: "\(exchange.method) \(exchange.path)\n\(exchange.request)".prefix(4000).description, response: exchange.response,
            error: exchange.status == 0 ? "no answer" : "HTTP \(exchange.status)", duration: exchange.duration)
        try? await IntegrationLogRepository(database).append(entry)
    }
}
