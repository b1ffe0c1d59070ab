import Bitrix24
import Foundation
import Jobs
import Storage
import SwitchboardCore

/// Turns a stored call into Bitrix24's telephony requests (pure; the dispatcher sends them).
public enum Bitrix24CallMapping {
    /// The extension whose user the call is registered for: the first one rung (inbound) or the caller
    /// (outbound). Register and a late register for the same call pick the same user.
    public static func cardExtension(_ call: Call) -> String? { call.extensions.first ?? call.answeredBy }

    /// `register` for the call; nil for internal calls and calls without a customer number.
    public static func registration(_ call: Call, userIDs: [String: Int], createLead: Bool, show: Bool) -> Bitrix24CallRegistration? {
        guard call.direction != .internal, let phone = call.customerPhone, phone.contains(where: \.isNumber),
            let ext = cardExtension(call)
        else { return nil }
        return Bitrix24CallRegistration(
            userID: userIDs[ext], userPhoneInner: userIDs[ext] == nil ? ext : nil, phoneNumber: phone, type: call.direction == .outbound ? 1 : 2,
            startDate: call.startedAt, externalCallID: call.externalID, lineNumber: call.trunk, createLead: createLead, show: show)
    }

    /// `finish` for the registered call `callID`: the user who answered (else the card's), talk time, outcome.
    public static func finish(_ call: Call, callID: String, userIDs: [String: Int]) -> Bitrix24CallFinish {
        let ext = call.answeredBy ?? cardExtension(call)
        let user = ext.flatMap { userIDs[$0] }
        return Bitrix24CallFinish(
            callID: callID, userID: user, userPhoneInner: user == nil ? ext : nil, duration: call.billsec, statusCode: statusCode(call.outcome))
    }

    /// Bitrix24's `STATUS_CODE`: 200 answered, 304 missed (nobody answered, or the caller gave up), 486 busy,
    /// 503 unavailable (the call failed), `OTHER` when the PBX did not say.
    public static func statusCode(_ outcome: CallOutcome) -> String {
        switch outcome {
        case .answered: "200"
        case .noAnswer, .abandoned: "304"
        case .busy: "486"
        case .failed: "503"
        case .unknown: "OTHER"
        }
    }

    /// Extension → Bitrix24 user id from the manager mapping.
    public static func userIDs(_ managers: [ManagerExtension]) -> [String: Int] {
        Dictionary(managers.compactMap { entry in Int(entry.crmUserID).map { (entry.extensionNumber, $0) } }) { first, _ in first }
    }
}

/// Click-to-call from Bitrix24 (`ONEXTERNALCALLSTART`): the portal has already registered the call, so
/// the PBX call it starts must be finished under that `CALL_ID`, not registered again. The id waits
/// here, keyed by extension and number, until the call from that extension to that number arrives.
public enum Bitrix24ClickToCall {
    /// A click older than this is not matched to a call any more.
    public static let window: TimeInterval = 180

    static func name(extension number: String, phone: String) -> String { "click:\(number):\(phone)" }

    /// Remembers the portal's `CALL_ID` for the call about to be dialled.
    public static func remember(callID: String, tenantID: String, extension number: String, phone: String, on runner: any SQLRunner) async throws {
        let value = "\(Int(Date().timeIntervalSince1970))|\(callID)"
        try await ConnectorCursorRepository(runner).set(tenantID: tenantID, integration: "bitrix24", name: name(extension: number, phone: phone), value: value)
    }

    /// The job that closes the portal's card of a click no PBX call claimed: after `window` (the manager
    /// never picked up, the PBX dropped the originate) as missed, or at once with 503 when the PBX refused.
    public static let closeKind = "bitrix24.click-close"

    public static func closeJob(
        tenantID: String, callID: String, extension number: String, phone: String, userID: Int?, statusCode: String, after delay: TimeInterval
    ) -> JobQueue.NewJob {
        .init(
            kind: closeKind, tenantID: tenantID,
            payload: [
                "call_id": .string(callID), "extension": .string(number), "phone": .string(phone),
                "user_id": userID.map { .number(Double($0)) } ?? .null, "status_code": .string(statusCode),
            ],
            priority: 20, runAt: Date().addingTimeInterval(delay), maxAttempts: 5, uniqueKey: "bitrix24-click:\(tenantID):\(callID)")
    }

    /// Runs `close` if the click still waits for `callID` (no PBX call took it), then forgets it; false when
    /// a call took it. A failing `close` leaves the click waiting, so the job's retry closes it again.
    /// No race with ``take``: by then the click is older than `window` (or the PBX refused to dial).
    public static func closeIfUnclaimed(
        tenantID: String, extension number: String, phone: String, callID: String, database: Database, _ close: () async throws -> Void
    ) async throws -> Bool {
        let cursors = ConnectorCursorRepository(database)
        let key = name(extension: number, phone: phone)
        guard let value = try await cursors.get(tenantID: tenantID, integration: "bitrix24", name: key),
            value.split(separator: "|", maxSplits: 1).last.map(String.init) == callID
        else { return false }
        try await close()
        try await cursors.delete(tenantID: tenantID, integration: "bitrix24", name: key)
        return true
    }

    /// The waiting `CALL_ID` for a call from `number` to `phone`, taken once.
    public static func take(tenantID: String, extension number: String, phone: String, database: Database) async throws -> String? {
        try await database.transaction { tx in
            let cursors = ConnectorCursorRepository(tx)
            let key = name(extension: number, phone: phone)
            guard let value = try await cursors.get(tenantID: tenantID, integration: "bitrix24", name: key) else { return nil }
            try await cursors.delete(tenantID: tenantID, integration: "bitrix24", name: key)
            let parts = value.split(separator: "|", maxSplits: 1).map(String.init)
            guard parts.count == 2, let at = Double(parts[0]), Date().timeIntervalSince1970 - at < window else { return nil }
            return parts[1]
        }
    }
}
