import Foundation
import SwitchboardCore

/// A step of getting a call into a CRM, run as its own job (its own idempotency key).
public enum DispatchStep: String, Sendable, CaseIterable, Codable {
    /// The live card (`call/event` in/out).
    case dial
    /// Closing the card (`call/event` hangup).
    case hangup
    /// The call history with its recording (`calls/upload`).
    case upload
}

/// Folds seed HTTP events into the stored call and says which CRM steps each one triggers.
/// Pure: the intake runs it inside the transaction that stores the raw event.
public enum SeedCallProjection {
    public static func apply(
        _ event: SeedCallEvent, to existing: CallRecord?, tenantID: String, parties: PartyClassifier, now: Date
    ) -> (record: CallRecord, steps: [DispatchStep]) {
        let caller = parties.number(event.callerIDNum)
        let connected = parties.number(event.connectedLineNum)
        let direction = event.direction ?? existing?.call.direction ?? guessDirection(caller: caller, connected: connected)
        var call = existing?.call ?? Call(externalID: event.uniqueID, direction: direction, startedAt: event.startTime ?? now, outcome: .unknown)
        call.direction = direction
        if let start = event.startTime { call.startedAt = start }
        if call.customerPhone == nil {
            let customer = direction == .outbound ? (connected, event.connectedLineNum) : (caller, event.callerIDNum)
            if case .outside(let phone) = customer.0 { call.customerPhone = phone } else { call.customerPhone = customer.1 }
        }
        if call.trunk == nil { call.trunk = event.trunk }
        var extensions = event.extensions
        if direction == .outbound, case .extensionNumber(let number) = caller { extensions.insert(number, at: 0) }
        for number in extensions where !call.extensions.contains(number) { call.extensions.append(number) }
        if let url = event.recordingURL { call.recordingURL = url }

        var record = existing ?? CallRecord(
            id: Identifiers.newID(), tenantID: tenantID, source: event.kind == .download ? .download : .http, progress: .ringing,
            call: call, createdAt: now, updatedAt: now)
        var steps: [DispatchStep] = []
        let crmBound = direction != .internal
        switch event.kind {
        case .start:
            break
        case .dial:
            if !record.dialSeen && crmBound { steps.append(.dial) }
            record.dialSeen = true
        case .bridge:
            call.answeredAt = call.answeredAt ?? now
            call.answeredBy = call.answeredBy ?? answerer(event, direction: direction, caller: caller, connected: connected)
            if record.progress == .ringing { record.progress = .answered }
        case .hangup, .download:
            let end = event.endTime ?? (event.kind == .hangup ? now : call.startedAt)
            call.endedAt = end
            call.outcome = event.outcome ?? (call.answeredAt != nil ? .answered : .unknown)
            if call.outcome == .answered {
                call.answeredBy = call.answeredBy ?? answerer(event, direction: direction, caller: caller, connected: connected)
                // Events sent late (a backlog, a replay) carry their times; the bridge's arrival time does not count then.
                if let billsec = event.billsec, call.answeredAt.map({ $0 > end }) ?? true {
                    call.answeredAt = end.addingTimeInterval(-Double(billsec))
                }
            }
            call.duration = event.duration ?? max(0, Int(end.timeIntervalSince(call.startedAt).rounded(.down)))
            call.billsec = event.billsec
                ?? (call.outcome == .answered ? max(0, Int(end.timeIntervalSince(call.answeredAt ?? call.startedAt).rounded(.down))) : 0)
            record.progress = .completed
            if crmBound {
                if event.kind == .hangup {
                    // The seed's rule: a hangup with no dial before it raises the card first.
                    if !record.dialSeen { steps.append(.dial) }
                    steps.append(.hangup)
                }
                steps.append(.upload)
            }
            if event.kind == .hangup { record.dialSeen = true }
        }
        record.call = call
        record.updatedAt = now
        return (record, steps)
    }

    static func guessDirection(caller: PartyClassifier.Party, connected: PartyClassifier.Party) -> CallDirection {
        switch (caller, connected) {
        case (.outside, _): .inbound
        case (.extensionNumber, .outside): .outbound
        case (.extensionNumber, .extensionNumber): .internal
        default: .inbound
        }
    }

    /// Inbound: the extension that picked up (first listed, or the connected line); outbound: the caller.
    static func answerer(_ event: SeedCallEvent, direction: CallDirection, caller: PartyClassifier.Party, connected: PartyClassifier.Party) -> String? {
        if direction == .outbound, case .extensionNumber(let number) = caller { return number }
        if let first = event.extensions.first { return first }
        if case .extensionNumber(let number) = connected { return number }
        return nil
    }
}
