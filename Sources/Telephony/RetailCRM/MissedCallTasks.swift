import Access
import Foundation
import Jobs
import RetailCRM
import Storage
import SwitchboardCore

/// The optional follow-up of a missed inbound call (`missed_call_tasks: true` in the tenant's `retailcrm`
/// settings): a RetailCRM task "call the customer back" for the customer's responsible manager, else the
/// manager of the extension that rang, else `missed_call_task_user_id`. Created at most once per call
/// (its own effect-ledger key), after the call is in RetailCRM's history.
public struct MissedCallTasks: Sendable {
    let access: RetailCRMAccess

    public init(access: RetailCRMAccess) {
        self.access = access
    }

    /// Outcomes that leave a customer waiting for a call back.
    public static let missed: Set<CallOutcome> = [.noAnswer, .abandoned, .busy]

    /// Whether the tenant wants a task for this call.
    public static func wanted(_ call: Call, settings: [String: JSONValue]) -> Bool {
        settings["missed_call_tasks"]?.boolValue == true && call.direction == .inbound && missed.contains(call.outcome)
            && call.customerPhone?.isEmpty == false
    }

    /// Creates the task when wanted; returns what happened, or nil when the call needs none.
    func followUp(_ record: CallRecord, integration: Integration, tenant: Tenant, job: Job) async throws -> JSONValue? {
        guard Self.wanted(record.call, settings: integration.settings), let phone = record.call.customerPhone else { return nil }
        let client = access.client(integration, event: "telephony.missed_call_task")
        let stores = Stores(access.database, secrets: access.secrets)
        let key = "retailcrm:\(record.call.externalID):task"
        let outcome = try await EffectLedger(access.database).once(tenantID: tenant.id, key: key, kind: "retailcrm.task", jobID: job.id) {
            let responsible = try await access.guarded(tenantID: tenant.id, lane: .telephony) { try await client.responsibleManager(phone: phone) }
            let mapped = RetailCRMTelephony.userIDs(try await stores.managers.list(tenantID: tenant.id, integration: .retailcrm))
            let rang = record.call.extensions.lazy.compactMap { mapped[$0] }.first
            guard let performer = responsible?.manager?.id ?? rang ?? integration.settings["missed_call_task_user_id"]?.intValue else {
                return ["skipped": "no manager to give the task to (no responsible manager, no mapped extension, no missed_call_task_user_id)"]
            }
            let task = Self.task(for: record.call, performer: performer, timeZone: TimeZone(identifier: tenant.timeZone) ?? .gmt)
            let id = try await access.guarded(tenantID: tenant.id, lane: .api) { try await client.createTask(task) }
            return ["created": .number(Double(id)), "performer_id": .number(Double(performer))]
        }
        return outcome.result
    }

    /// The task: due now, in Russian (RetailCRM's managers read it), with the call's time and id.
    public static func task(for call: Call, performer: Int, timeZone: TimeZone) -> RetailCRMTask {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        let phone = call.customerPhone ?? ""
        let what =
            switch call.outcome {
            case .busy: "линия была занята"
            case .abandoned: "клиент не дождался ответа"
            default: "никто не ответил"
            }
        return RetailCRMTask(
            text: "Перезвонить клиенту \(phone)", commentary: "Пропущенный звонок \(formatter.string(from: call.startedAt)): \(what). Звонок \(call.externalID).",
            datetime: formatter.string(from: call.endedAt ?? call.startedAt), performerId: performer, phone: phone)
    }
}
