import Access
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
    public let retailCRM: RetailCRMAccess
    var database: Database { retailCRM.database }

    public init(retailCRM: RetailCRMAccess) {
        self.retailCRM = retailCRM
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
        let stores = Stores(database, secrets: retailCRM.secrets)
        guard let record = try await stores.calls.find(tenantID: tenantID, id: callID) else { throw JobFailure.permanent("call \(callID) not found") }
        guard let integration = try await stores.integrations.find(tenantID: tenantID, kind: target), integration.enabled else {
            return ["skipped": .string("the \(target.rawValue) integration is not enabled")]
        }
        switch target {
        case .retailcrm:
            return try await sendToRetailCRM(step, record: record, integration: integration, job: job, stores: stores)
        default:
            throw JobFailure.permanent("\(target.rawValue) does not take calls yet")
        }
    }

    private func sendToRetailCRM(_ step: DispatchStep, record: CallRecord, integration: Integration, job: Job, stores: Stores) async throws -> JSONValue {
        let tenantID = record.tenantID
        let ledger = EffectLedger(database)
        let key = "retailcrm:\(record.call.externalID):\(step.rawValue)"
        if step == .hangup, job.attempt < 3, try await !dialDone(record, ledger: ledger) {
            // Close the card only after it was opened: the dial step is still queued or retrying.
            throw JobFailure.retryable("waiting for the call card to be shown first", retryAfter: .seconds(1))
        }
        let tenant = try await stores.tenants.require(tenantID)
        let client = retailCRM.client(integration, event: "telephony.\(step.rawValue)")
        let outcome = try await ledger.once(tenantID: tenantID, key: key, kind: "retailcrm.\(step.rawValue)", jobID: job.id) {
            switch step {
            case .dial, .hangup:
                guard let event = RetailCRMTelephony.cardEvent(record.call, step: step) else { return ["skipped": "no customer number"] }
                try await retailCRM.guarded(tenantID: tenantID, lane: .telephony) { try await client.sendCallEvent(event) }
                return ["sent": .string(event.type)]
            case .upload:
                let managers = try await stores.managers.list(tenantID: tenantID, integration: .retailcrm)
                let zone = TimeZone(identifier: tenant.timeZone) ?? .gmt
                guard let call = RetailCRMTelephony.upload(record.call, userIDs: RetailCRMTelephony.userIDs(managers), timeZone: zone) else {
                    return ["skipped": "no customer number"]
                }
                let answer = try await retailCRM.guarded(tenantID: tenantID, lane: .telephony) { try await client.uploadCalls([call]) }
                return ["uploaded": .string(call.externalId), "duplicate": .bool(answer.duplicateCalls?.contains(call.externalId) == true)]
            }
        }
        var result: [String: JSONValue] = ["effect": .string(key), "replayed": .bool(outcome.replayed), "result": outcome.result]
        if step == .upload, let task = try await MissedCallTasks(access: retailCRM).followUp(record, integration: integration, tenant: tenant, job: job) {
            result["task"] = task
        }
        return .object(result)
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
}
