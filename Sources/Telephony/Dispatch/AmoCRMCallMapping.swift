import Foundation
import Storage
import SwitchboardCore

/// Turns a stored call into amoCRM's requests (pure; the dispatcher sends them): the call log entry
/// (`POST /api/v4/calls`), the contact a call needs (amoCRM adds a call only to a number it knows), the
/// follow-up task of a missed call, the incoming-call popup.
public enum AmoCRMCallMapping {
    /// amoCRM's `call_status`: 4 conversation held, 6 no answer, 7 busy, 8 undefined (failed, unknown).
    public static func callStatus(_ outcome: CallOutcome) -> Int {
        switch outcome {
        case .answered: 4
        case .noAnswer, .abandoned: 6
        case .busy: 7
        case .failed, .unknown: 8
        }
    }

    /// `call_result`, the text amoCRM shows with the call.
    public static func callResult(_ outcome: CallOutcome) -> String {
        switch outcome {
        case .answered: "Разговор состоялся"
        case .noAnswer: "Не отвечен"
        case .abandoned: "Клиент положил трубку до ответа"
        case .busy: "Занято"
        case .failed: "Звонок не удался"
        case .unknown: "Результат неизвестен"
        }
    }

    /// The extension the call belongs to: who answered, else the first one rung or the caller.
    public static func responsibleExtension(_ call: Call) -> String? { call.answeredBy ?? call.extensions.first }

    /// Extension → amoCRM user id from the manager mapping.
    public static func userIDs(_ managers: [ManagerExtension]) -> [String: Int] {
        Dictionary(managers.compactMap { entry in Int(entry.crmUserID).map { (entry.extensionNumber, $0) } }) { first, _ in first }
    }

    /// Whether the call is one the CRM hears of: a customer call with a number.
    public static func customerPhone(_ call: Call) -> String? {
        guard call.direction != .internal, let phone = call.customerPhone, phone.contains(where: \.isNumber) else { return nil }
        return phone
    }

    /// The call log entry; `source` names Switchboard, `uniq` and `request_id` the call.
    public static func call(_ call: Call, phone: String, userIDs: [String: Int]) -> JSONValue {
        var entry: [String: JSONValue] = [
            "direction": .string(call.direction == .outbound ? "outbound" : "inbound"), "uniq": .string(call.externalID),
            "duration": .number(Double(call.billsec)), "source": "Switchboard", "phone": .string(phone),
            "call_status": .number(Double(callStatus(call.outcome))), "call_result": .string(callResult(call.outcome)),
            "created_at": .number(call.startedAt.timeIntervalSince1970.rounded(.down)), "request_id": .string(call.externalID),
        ]
        if let url = call.recordingURL, !url.isEmpty { entry["link"] = .string(url) }
        if let ext = responsibleExtension(call) {
            if let user = userIDs[ext] {
                entry["responsible_user_id"] = .number(Double(user))
                entry["call_responsible"] = .number(Double(user))
            } else {
                entry["call_responsible"] = .string(ext)  // amoCRM takes a name when no user is known
            }
        }
        return .array([.object(entry)])
    }

    /// A contact for a number amoCRM does not know yet.
    public static func newContact(phone: String, responsible: Int?) -> JSONValue {
        var contact: [String: JSONValue] = [
            "name": .string(phone), "custom_fields_values": [["field_code": "PHONE", "values": [["value": .string(phone), "enum_code": "WORK"]]]],
        ]
        if let responsible { contact["responsible_user_id"] = .number(Double(responsible)) }
        return .array([.object(contact)])
    }

    /// A call-back task for a missed inbound call, due in `within` seconds.
    public static func missedCallTask(_ call: Call, phone: String, contactID: Int, responsible: Int?, within: TimeInterval = 3600) -> JSONValue {
        var task: [String: JSONValue] = [
            "task_type_id": 1, "text": .string("Перезвонить: пропущенный звонок с \(phone)"),
            "complete_till": .number((call.endedAt ?? call.startedAt).addingTimeInterval(within).timeIntervalSince1970.rounded(.down)),
            "entity_id": .number(Double(contactID)), "entity_type": "contacts", "request_id": .string(call.externalID),
        ]
        if let responsible { task["responsible_user_id"] = .number(Double(responsible)) }
        return .array([.object(task)])
    }

    /// The incoming-call popup (`POST /api/v2/events`, the documented telephony event), to the users of
    /// the rung extensions (none mapped: every user).
    public static func popup(_ call: Call, phone: String, userIDs: [String: Int]) -> JSONValue {
        var event: [String: JSONValue] = ["type": "phone_call", "phone_number": .string(phone)]
        let users = call.extensions.compactMap { userIDs[$0] }
        if !users.isEmpty { event["users"] = .array(users.map { .number(Double($0)) }) }
        return ["add": [.object(event)]]
    }
}
