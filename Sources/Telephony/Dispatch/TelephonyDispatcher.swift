import Access
import Bitrix24
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
    public let bitrix24: Bitrix24Access
    public let amoCRM: AmoCRMAccess
    var database: Database { retailCRM.database }

    public init(retailCRM: RetailCRMAccess, bitrix24: Bitrix24Access, amoCRM: AmoCRMAccess) {
        self.retailCRM = retailCRM
        self.bitrix24 = bitrix24
        self.amoCRM = amoCRM
    }

    /// Adds the telephony job kinds to `registry`.
    public func register(into registry: inout JobRegistry) {
        registry.register(
            CallIntake.jobKind, policy: RetryPolicy(maxAttempts: 12, backoff: .exponential(base: .seconds(2), cap: .seconds(1800))),
            timeout: .seconds(30)
        ) { context in try await run(context) }
        registry.register(Bitrix24ClickToCall.closeKind, policy: .standard, timeout: .seconds(30)) { context in try await closeClick(context) }
    }

    /// Finishes the portal's click-to-call card that no PBX call claimed (see ``Bitrix24ClickToCall/closeJob``).
    func closeClick(_ context: JobContext) async throws -> JSONValue? {
        let job = context.job
        guard let tenantID = job.tenantID, let payload = job.payload.objectValue, let callID = payload["call_id"]?.stringValue,
            let ext = payload["extension"]?.stringValue, let phone = payload["phone"]?.stringValue
        else { throw JobFailure.permanent("payload needs call_id, extension and phone, and the job a tenant") }
        let status = payload["status_code"]?.stringValue ?? "304"
        let closed = try await Bitrix24ClickToCall.closeIfUnclaimed(tenantID: tenantID, extension: ext, phone: phone, callID: callID, database: database) {
            guard let integration = try await Stores(database, secrets: retailCRM.secrets).integrations.find(tenantID: tenantID, kind: .bitrix24) else { return }
            let finish = Bitrix24CallFinish(callID: callID, userID: payload["user_id"]?.intValue, userPhoneInner: nil, duration: 0, statusCode: status)
            try await bitrix24.client(integration, event: "telephony.click_to_call").finishCall(finish)
        }
        guard closed else { return ["skipped": "a PBX call took the click"] }
        return ["finished": .string(callID), "status_code": .string(status)]
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
        case .bitrix24:
            // A Bitrix24Error speaks for itself (JobFailure(error)): WRONG_AUTH_TYPE says to install the app.
            return try await sendToBitrix24(step, record: record, integration: integration, job: job, stores: stores)
        case .amocrm:
            return try await sendToAmoCRM(step, record: record, integration: integration, job: job, stores: stores)
        default:
            throw JobFailure.permanent("\(target.rawValue) does not take calls yet")
        }
    }

    private func sendToRetailCRM(_ step: DispatchStep, record: CallRecord, integration: Integration, job: Job, stores: Stores) async throws -> JSONValue {
        let tenantID = record.tenantID
        let ledger = EffectLedger(database)
        let key = "retailcrm:\(record.call.externalID):\(step.rawValue)"
        if step == .hangup, job.attempt < 3, try await !dialDone(record, target: .retailcrm, key: "retailcrm:\(record.call.externalID):dial", ledger: ledger) {
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

    /// Bitrix24: `register` (the card) at dial, `finish` at hangup, `attachRecord` with the history. A step
    /// that finds no registration (a hangup without a dial, a backfilled call) registers first, without a
    /// card; a click-to-call uses the `CALL_ID` the portal gave. Each request is one ledger effect, and the
    /// call's own id goes as `EXTERNAL_CALL_ID`, so two overlapping calls between the same numbers never
    /// share a `CALL_ID`.
    private func sendToBitrix24(_ step: DispatchStep, record: CallRecord, integration: Integration, job: Job, stores: Stores) async throws -> JSONValue {
        let (tenantID, call) = (record.tenantID, record.call)
        let ledger = EffectLedger(database)
        func key(_ step: String) -> String { CallEffectKey.bitrix24(call.externalID, step) }
        // register → finish → attachRecord, in that order: a second finish of one CALL_ID is refused.
        if step != .dial, job.attempt < 3, try await !dialDone(record, target: .bitrix24, key: key("register"), ledger: ledger) {
            throw JobFailure.retryable("waiting for the call to be registered first", retryAfter: .seconds(1))
        }
        if step == .upload, job.attempt < 3,
            try await !dialDone(record, target: .bitrix24, key: key("finish"), ledger: ledger, step: .hangup)
        {
            throw JobFailure.retryable("waiting for the call to be finished first", retryAfter: .seconds(1))
        }
        let userIDs = Bitrix24CallMapping.userIDs(try await stores.managers.list(tenantID: tenantID, integration: .bitrix24))
        let createLead = integration.settings["create_lead_for_unknown"]?.boolValue ?? false
        guard let registration = Bitrix24CallMapping.registration(call, userIDs: userIDs, createLead: createLead, show: step == .dial) else {
            return ["skipped": "no customer number"]
        }
        let client = try bitrix24.client(integration, event: "telephony.\(step.rawValue)")
        let registered = try await ledger.once(tenantID: tenantID, key: key("register"), kind: "bitrix24.register", jobID: job.id) {
            if call.direction == .outbound, let ext = Bitrix24CallMapping.cardExtension(call),
                let clicked = try await Bitrix24ClickToCall.take(tenantID: tenantID, extension: ext, phone: registration.phoneNumber, database: database)
            {
                return ["call_id": .string(clicked), "click_to_call": true]
            }
            let answer = try await client.registerCall(registration)
            return [
                "call_id": .string(answer.callID), "crm_entity_type": answer.crmEntityType.map(JSONValue.string) ?? .null,
                "crm_entity_id": answer.crmEntityID.map { .number(Double($0)) } ?? .null,
                "created_lead_id": answer.createdLeadID.map { .number(Double($0)) } ?? .null,
            ]
        }
        if !registered.replayed {
            // The call log copy in the mirror keys on updated_at: a call copied before its register must be copied again.
            try await stores.calls.touch(tenantID: tenantID, id: record.id)
        }
        guard let callID = registered.result.objectValue?["call_id"]?.stringValue else {
            throw JobFailure.permanent("the recorded registration of call \(call.externalID) has no CALL_ID")
        }
        var result: [String: JSONValue] = ["call_id": .string(callID), "registration": registered.result]
        guard step != .dial else { return .object(result) }
        guard call.endedAt != nil || step == .upload else { throw JobFailure.retryable("the call has not ended yet", retryAfter: .seconds(2)) }
        let finish = Bitrix24CallMapping.finish(call, callID: callID, userIDs: userIDs)
        let finished = try await ledger.once(tenantID: tenantID, key: key("finish"), kind: "bitrix24.finish", jobID: job.id) {
            try await client.finishCall(finish)
            return ["status_code": .string(finish.statusCode), "duration": .number(Double(finish.duration))]
        }
        result["finish"] = finished.result
        if step == .upload, let url = call.recordingURL, !url.isEmpty {
            let attached = try await ledger.once(tenantID: tenantID, key: key("record"), kind: "bitrix24.record", jobID: job.id) {
                let file = try await client.attachRecord(callID: callID, url: url)
                return ["file_id": file.map { .number(Double($0)) } ?? .null]
            }
            result["record"] = attached.result
        }
        return .object(result)
    }

    /// Whether an earlier step's effect `key` is recorded, or will never be (its `step` is not pending); waits
    /// up to two seconds for a step that is running right now, so the usual case needs no retry.
    func dialDone(
        _ record: CallRecord, target: IntegrationKind, key: String, ledger: EffectLedger, step: DispatchStep = .dial
    ) async throws -> Bool {
        for _ in 0..<20 {
            if try await ledger.find(tenantID: record.tenantID, key: key) != nil { return true }
            guard try await stepPending(record, target: target, step: step) else { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Whether one of the call's steps is still queued or running.
    private func stepPending(_ record: CallRecord, target: IntegrationKind, step: DispatchStep) async throws -> Bool {
        let unique = "telephony:\(record.tenantID):\(record.call.externalID):\(target.rawValue):\(step.rawValue)"
        return try await database.run { sql in
            try await sql.raw(
                "SELECT id FROM jobs WHERE unique_key = \(bind: unique) AND state IN ('available', 'scheduled', 'running', 'retryable')"
            ).first() != nil
        }
    }
}
