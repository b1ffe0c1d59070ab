import Access
import AmoCRM
import Foundation
import Jobs
import Storage
import SwitchboardCore

/// amoCRM's share of a call: the popup when an inbound call starts ringing, and when it is over the
/// call log entry on the caller's contact (created first when amoCRM does not know the number and the
/// tenant allows it — amoCRM silently drops a call on an unknown number), plus a call-back task for a
/// missed inbound call. Each request is one ledger effect: a step that amoCRM answered is never sent again.
/// amoCRM takes no idempotency key for calls and tasks, so an answer lost in transit (a timeout after amoCRM
/// stored it) can repeat one on the retry; a contact is looked up by number before it is made, so not it.
///
/// Settings of the `amocrm` integration: `telephony` (take calls at all), `create_contact_for_unknown`
/// (default true), `missed_call_tasks` (default true), `popup` (default true).
extension TelephonyDispatcher {
    func sendToAmoCRM(_ step: DispatchStep, record: CallRecord, integration: Integration, job: Job, stores: Stores) async throws -> JSONValue {
        let (tenantID, call) = (record.tenantID, record.call)
        guard let phone = AmoCRMCallMapping.customerPhone(call) else { return ["skipped": "no customer number"] }
        let userIDs = AmoCRMCallMapping.userIDs(try await stores.managers.list(tenantID: tenantID, integration: .amocrm))
        let ledger = EffectLedger(database)
        func key(_ name: String) -> String { "amocrm:\(call.externalID):\(name)" }
        let client = try amoCRM.client(integration, event: "telephony.\(step.rawValue)")
        switch step {
        case .dial:
            guard call.direction == .inbound, integration.settings["popup"]?.boolValue ?? true else { return ["skipped": "no popup for this call"] }
            let shown = try await ledger.once(tenantID: tenantID, key: key("popup"), kind: "amocrm.popup", jobID: job.id) {
                _ = try await guarded { try await client.send(.POST, "/api/v2/events", body: AmoCRMCallMapping.popup(call, phone: phone, userIDs: userIDs)) }
                return ["popup": .string(phone)]
            }
            return shown.result
        case .hangup:
            return ["skipped": "amoCRM takes the call when its history is complete (upload)"]
        case .upload:
            guard call.endedAt != nil else { throw JobFailure.retryable("the call has not ended yet", retryAfter: .seconds(2)) }
            let responsible = AmoCRMCallMapping.responsibleExtension(call).flatMap { userIDs[$0] }
            var contactID = try await findContact(phone, client: client)
            if contactID == nil, integration.settings["create_contact_for_unknown"]?.boolValue ?? true {
                let created = try await ledger.once(tenantID: tenantID, key: key("contact"), kind: "amocrm.contact", jobID: job.id) {
                    let answer = try await guarded { try await client.send(.POST, "/api/v4/contacts", body: AmoCRMCallMapping.newContact(phone: phone, responsible: responsible)) }
                    let id = AmoCRMClient.embedded(answer ?? [:], "contacts").first?.objectValue?["id"]
                    return ["contact_id": id ?? .null]
                }
                contactID = created.result.objectValue?["contact_id"]?.intValue
            }
            guard let contact = contactID else {
                return ["skipped": .string("amoCRM knows no contact with \(phone) and create_contact_for_unknown is off: amoCRM would drop the call")]
            }
            let added = try await ledger.once(tenantID: tenantID, key: key("call"), kind: "amocrm.call", jobID: job.id) {
                let answer = try await guarded { try await client.send(.POST, "/api/v4/calls", body: AmoCRMCallMapping.call(call, phone: phone, userIDs: userIDs)) }
                if let refused = answer?["errors"]?.arrayValue?.first?.objectValue {
                    // The contact was just made or found, so this is amoCRM lagging behind its own search: retry.
                    throw JobFailure.retryable("amoCRM did not attach the call: \(refused["detail"]?.scalarText ?? refused["title"]?.scalarText ?? "?")", retryAfter: .seconds(5))
                }
                guard let id = AmoCRMClient.embedded(answer ?? [:], "calls").first?.objectValue?["id"] else {
                    // No id and no error: amoCRM dropped the call without a word — not done.
                    throw JobFailure.retryable("amoCRM answered without adding the call", retryAfter: .seconds(5))
                }
                return ["call_id": id, "contact_id": .number(Double(contact)), "call_status": .number(Double(AmoCRMCallMapping.callStatus(call.outcome)))]
            }
            var result: [String: JSONValue] = ["call": added.result, "replayed": .bool(added.replayed)]
            let missed = call.direction == .inbound && [.noAnswer, .abandoned, .busy].contains(call.outcome)
            if missed, integration.settings["missed_call_tasks"]?.boolValue ?? true {
                let task = try await ledger.once(tenantID: tenantID, key: key("task"), kind: "amocrm.task", jobID: job.id) {
                    let body = AmoCRMCallMapping.missedCallTask(call, phone: phone, contactID: contact, responsible: responsible)
                    let answer = try await guarded { try await client.send(.POST, "/api/v4/tasks", body: body) }
                    return ["task_id": AmoCRMClient.embedded(answer ?? [:], "tasks").first?.objectValue?["id"] ?? .null]
                }
                result["task"] = task.result
            }
            return .object(result)
        }
    }

    /// The contact with the number (amoCRM's loose search, checked: the same last 10 digits).
    private func findContact(_ phone: String, client: AmoCRMClient) async throws -> Int? {
        try await guarded { try await AmoCRMContacts.find(client, phone: phone, email: nil) }
    }

    /// amoCRM's errors as job failures (retryable for outages and 429, permanent for refused input).
    private func guarded<R: Sendable>(_ request: () async throws -> R) async throws -> R {
        do {
            return try await request()
        } catch let error as AmoCRMError {
            throw error.jobFailure
        }
    }
}
