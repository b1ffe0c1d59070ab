import Foundation
import Jobs
import Logging
import RetailCRM
import Storage
import SwitchboardCore

/// Runs the `telephony.crm-step` jobs: one CRM request per call step, at most once per
/// (tenant, call, step) through the effect ledger, paced by the tenant's rate limit, behind the
/// tenant's circuit breaker, every exchange in the integration log.
public struct TelephonyDispatcher: Sendable {
    public let database: Database
    public let secrets: SecretBox
    public let rateLimiter: RateLimiter
    public let breakers: CircuitBreakers
    /// Per CRM request; telephony must not hold a worker long.
    public var timeout: Duration

    public init(database: Database, secrets: SecretBox, rateLimiter: RateLimiter, breakers: CircuitBreakers, timeout: Duration = .seconds(3)) {
        self.database = database
        self.secrets = secrets
        self.rateLimiter = rateLimiter
        self.breakers = breakers
        self.timeout = timeout
    }

    /// Adds the telephony job kinds to `registry`.
    public func register(into registry: inout JobRegistry) {
        registry.register(
            CallIntake.jobKind, policy: RetryPolicy(maxAttempts: 12, backoff: .exponential(base: .seconds(2), cap: .seconds(1800))),
            timeout: .seconds(30)
        ) { context in try await run(context) }
    }

    func run(_ context: JobContext) async throws -> JSONValue? {
        let job = context.job
        guard let tenantID = job.tenantID, let payload = job.payload.objectValue,
            let callID = payload["call_id"]?.stringValue, let step = payload["step"]?.stringValue.flatMap(DispatchStep.init(rawValue:)),
            let target = payload["integration"]?.stringValue.flatMap(IntegrationKind.init(rawValue:))
        else { throw JobFailure.permanent("payload needs call_id, step (dial|hangup|upload) and integration, and the job a tenant") }
        let stores = Stores(database, secrets: secrets)
        guard let record = try await stores.calls.find(tenantID: tenantID, id: callID) else { throw JobFailure.permanent("call \(callID) not found") }
        guard let integration = try await stores.integrations.find(tenantID: tenantID, kind: target), integration.enabled else {
            return ["skipped": .string("the \(target.rawValue) integration is not enabled")]
        }
        switch target {
        case .retailcrm:
            return try await retailCRM(step, record: record, integration: integration, job: job, stores: stores)
        default:
            throw JobFailure.permanent("\(target.rawValue) does not take calls yet")
        }
    }

    private func retailCRM(_ step: DispatchStep, record: CallRecord, integration: Integration, job: Job, stores: Stores) async throws -> JSONValue {
        let tenantID = record.tenantID
        let ledger = EffectLedger(database)
        let key = "retailcrm:\(record.call.externalID):\(step.rawValue)"
        if step == .hangup, job.attempt < 3, try await !dialDone(record, ledger: ledger) {
            // Close the card only after it was opened: the dial step is still queued or retrying.
            throw JobFailure.retryable("waiting for the call card to be shown first", retryAfter: .seconds(1))
        }
        let tenant = try await stores.tenants.require(tenantID)
        let client = RetailCRMClient(
            baseURL: integration.settings["base_url"]?.stringValue ?? "", apiKey: integration.secrets["api_key"] ?? "", timeout: timeout
        ) { exchange in await log(exchange, tenantID: tenantID, step: step) }
        let outcome = try await ledger.once(tenantID: tenantID, key: key, kind: "retailcrm.\(step.rawValue)", jobID: job.id) {
            switch step {
            case .dial, .hangup:
                guard let event = RetailCRMTelephony.cardEvent(record.call, step: step) else { return ["skipped": "no customer number"] }
                try await guarded(tenantID: tenantID) { try await client.sendCallEvent(event) }
                return ["sent": .string(event.type)]
            case .upload:
                let managers = try await stores.managers.list(tenantID: tenantID, integration: .retailcrm)
                let userIDs = Dictionary(managers.compactMap { entry in Int(entry.crmUserID).map { (entry.extensionNumber, $0) } }) { first, _ in first }
                let zone = TimeZone(identifier: tenant.timeZone) ?? .gmt
                guard let call = RetailCRMTelephony.upload(record.call, userIDs: userIDs, timeZone: zone) else { return ["skipped": "no customer number"] }
                let answer = try await guarded(tenantID: tenantID) { try await client.uploadCalls([call]) }
                return ["uploaded": .string(call.externalId), "duplicate": .bool(answer.duplicateCalls?.contains(call.externalId) == true)]
            }
        }
        return ["effect": .string(key), "replayed": .bool(outcome.replayed), "result": outcome.result]
    }

    /// Whether the card was shown, or will never be (no dial step pending); waits up to two seconds for a
    /// dial step that is running right now, so the usual case needs no retry.
    private func dialDone(_ record: CallRecord, ledger: EffectLedger) async throws -> Bool {
        let key = "retailcrm:\(record.call.externalID):dial"
        for _ in 0..<20 {
            if try await ledger.find(tenantID: record.tenantID, key: key) != nil { return true }
            guard try await dialPending(record) else { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Whether the call's dial step is still queued or running.
    private func dialPending(_ record: CallRecord) async throws -> Bool {
        let unique = "telephony:\(record.tenantID):\(record.call.externalID):retailcrm:dial"
        return try await database.run { sql in
            try await sql.raw(
                "SELECT id FROM jobs WHERE unique_key = \(bind: unique) AND state IN ('available', 'scheduled', 'running', 'retryable')"
            ).first() != nil
        }
    }

    /// One CRM request behind the tenant's breaker and rate limit; RetailCRM's answers become job failures.
    private func guarded<R: Sendable>(tenantID: String, _ request: () async throws -> R) async throws -> R {
        let breakerKey = CircuitBreakers.key(tenantID: tenantID, integration: "retailcrm")
        guard await breakers.allow(breakerKey) else {
            throw JobFailure.retryable("RetailCRM is failing for this tenant (circuit open); trying again later", retryAfter: .seconds(30))
        }
        let limiterKey = "retailcrm:\(tenantID):telephony"
        try await rateLimiter.acquire(limiterKey, limit: .retailcrmTelephony)
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

    private func log(_ exchange: RetailCRMExchange, tenantID: String, step: DispatchStep) async {
        let ok = (200..<300).contains(exchange.status)
        let entry = IntegrationLogEntry(
            id: Identifiers.newID(), tenantID: tenantID, integration: "retailcrm", eventType: "telephony.\(step.rawValue)",
            status: ok ? .success : .error, requestData: "\(exchange.method) \(exchange.path)\n\(exchange.request)".prefix(4000).description,
            responseData: exchange.response, errorMessage: ok ? nil : "HTTP \(exchange.status)",
            durationMs: Int(exchange.duration.wholeMilliseconds), createdAt: .storageNow)
        try? await IntegrationLogRepository(database).append(entry)
    }
}
