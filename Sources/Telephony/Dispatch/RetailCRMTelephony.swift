import Foundation
import RetailCRM
import Storage
import SwitchboardCore

/// Turns a stored call into RetailCRM's telephony requests (pure; the dispatcher sends them).
public enum RetailCRMTelephony {
    /// `call/event` for the live card: `in`/`out` at dial, `hangup` with RetailCRM's status words.
    public static func cardEvent(_ call: Call, step: DispatchStep) -> RetailCRMCallEvent? {
        guard let phone = call.customerPhone, !phone.isEmpty, call.direction != .internal else { return nil }
        let codes: [String]
        switch step {
        case .dial: codes = call.extensions
        default: codes = call.answeredBy.map { [$0] } ?? call.extensions
        }
        var event = RetailCRMCallEvent(
            phone: phone, type: call.direction == .outbound ? "out" : "in", codes: codes.isEmpty ? nil : codes,
            callExternalId: call.externalID, externalPhone: externalPhone(call))
        if step == .hangup {
            event.type = "hangup"
            event.hangupStatus = hangupStatus(call.outcome)
        }
        return event
    }

    /// The call history entry. Calls of extensions with no manager are uploaded too, just without a user.
    public static func upload(_ call: Call, userIDs: [String: Int], timeZone: TimeZone) -> RetailCRMCall? {
        guard let phone = call.customerPhone, call.direction != .internal else { return nil }
        let digits = phone.filter(\.isNumber)
        guard !digits.isEmpty else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let code = call.answeredBy ?? call.extensions.first
        let waiting = call.answeredAt.map { max(0, Int($0.timeIntervalSince(call.startedAt).rounded(.down))) } ?? call.duration
        return RetailCRMCall(
            date: formatter.string(from: call.startedAt), type: call.direction == .outbound ? "out" : "in", phone: digits, code: code,
            userId: code.flatMap { userIDs[$0] }, result: uploadResult(call.outcome), duration: call.billsec, durationWaiting: waiting,
            externalId: call.externalID, recordUrl: call.recordingURL, externalPhone: externalPhone(call))
    }

    /// Extension → RetailCRM user id from the manager mapping (ids RetailCRM cannot read are left out).
    public static func userIDs(_ managers: [ManagerExtension]) -> [String: Int] {
        Dictionary(managers.compactMap { entry in Int(entry.crmUserID).map { (entry.extensionNumber, $0) } }) { first, _ in first }
    }

    /// RetailCRM's `hangupStatus`: `answered | busy | cancel | failed | no answered`.
    public static func hangupStatus(_ outcome: CallOutcome) -> String? {
        switch outcome {
        case .answered: "answered"
        case .busy: "busy"
        case .noAnswer: "no answered"
        case .abandoned: "cancel"
        case .failed: "failed"
        case .unknown: nil
        }
    }

    /// RetailCRM's upload `result`: `answered | busy | failed | no answer | not allowed | unknown` (no "missed").
    public static func uploadResult(_ outcome: CallOutcome) -> String {
        switch outcome {
        case .answered: "answered"
        case .busy: "busy"
        case .noAnswer, .abandoned: "no answer"
        case .failed: "failed"
        case .unknown: "unknown"
        }
    }

    /// The trunk when it reads as a phone number (the company line the call came in on).
    static func externalPhone(_ call: Call) -> String? {
        guard let trunk = call.trunk, case .outside(let number) = PartyClassifier().number(trunk) else { return nil }
        return number
    }
}
