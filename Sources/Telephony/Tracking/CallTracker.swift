import Foundation
import Asterisk
import SwitchboardCore

/// Builds calls from AMI events. A call is every channel sharing a `Linkedid`; it is finished when
/// all its channels have hung up. Direction, the customer's number, who answered and the outcome come
/// from the dials that really happened (`DialBegin`/`DialEnd` between channels), so a queue member who
/// was merely rung, or an Originate's own first leg, is never taken for the one who answered.
/// `Cdr` events are not needed (they carry no `Linkedid` and may come before or after `Hangup`).
public struct CallTracker: Sendable {
    /// What changed, in the order it happened.
    public enum Update: Sendable, Equatable {
        /// An extension started ringing (inbound) or an extension started dialling out (outbound).
        case ringing(callID: String, direction: CallDirection, phone: String?, extension: String)
        case answered(callID: String, direction: CallDirection, phone: String?, extension: String)
        case completed(Call)
    }

    public let parties: PartyClassifier
    private var calls: [String: CallState] = [:]

    public init(parties: PartyClassifier = PartyClassifier()) {
        self.parties = parties
    }

    /// Calls still in progress.
    public var activeCallIDs: [String] { calls.keys.sorted() }

    /// The name of the call's first channel (the caller's), e.g. `PJSIP/trunk-00000001` — what an AMI
    /// `Redirect` moves.
    public func callerChannel(of callID: String) -> String? { calls[callID]?.callerChannel }

    /// True while the call is in progress and nobody has answered it.
    public func isRinging(_ callID: String) -> Bool { calls[callID].map { $0.answeredAt == nil } ?? false }

    public mutating func handle(_ message: AMIMessage) -> [Update] {
        guard let event = message.event else { return [] }
        let time = message["Timestamp"].flatMap(Double.init).map(Date.init(timeIntervalSince1970:)) ?? Date()
        if event == "BlindTransfer" || event == "AttendedTransfer" { return transferred(message, blind: event == "BlindTransfer", at: time) }
        guard let callID = message["Linkedid"] ?? message["DestLinkedid"], !callID.isEmpty else { return [] }
        var state = calls[callID] ?? CallState(id: callID, startedAt: time)
        state.lastEventAt = time
        state.noteChannel(uniqueID: message["Uniqueid"], name: message["Channel"], caller: message["CallerIDNum"], parties: parties)
        state.noteChannel(uniqueID: message["DestUniqueid"], name: message["DestChannel"], caller: nil, parties: parties)
        var updates: [Update] = []
        switch event {
        case "DialBegin":
            updates += state.dialBegan(message, at: time, parties: parties)
        case "DialEnd":
            updates += state.dialEnded(message, at: time)
        case "Hangup":
            if let uniqueID = message["Uniqueid"] { state.hungUp.insert(uniqueID) }
            state.endedAt = time
        default:
            break
        }
        if state.isFinished {
            calls[callID] = nil
            updates.append(.completed(state.call()))
        } else {
            calls[callID] = state
        }
        return updates
    }

    /// A transfer moves the customer to another extension. The call stays one call (it ends when the
    /// customer's side hangs up, not when the transferring agent does); who answered first stays
    /// `answeredBy`, the target joins the extensions. Blind: the target is `Extension`; attended: the
    /// party the transferer's consultation call was connected to.
    private mutating func transferred(_ message: AMIMessage, blind: Bool, at time: Date) -> [Update] {
        guard let callID = message["TransfereeLinkedid"] ?? message["OrigTransfererLinkedid"], var state = calls[callID] else { return [] }
        state.lastEventAt = time
        let target = blind ? message["Extension"] : (message["TransferTargetCallerIDNum"] ?? message["SecondTransfererConnectedLineNum"])
        var updates: [Update] = []
        if let target, parties.isExtension(target) {
            updates.append(.ringing(callID: callID, direction: state.direction ?? .inbound, phone: state.customerPhone, extension: target))
            state.addExtension(target)
        }
        calls[callID] = state
        return updates
    }

    /// Finishes calls that have seen no event since `cutoff` (their hangups were lost, e.g. while the
    /// AMI connection was down), with what is known.
    public mutating func expire(idleSince cutoff: Date) -> [Update] {
        let stale = calls.values.filter { $0.lastEventAt < cutoff }.sorted { $0.startedAt < $1.startedAt }
        for state in stale { calls[state.id] = nil }
        return stale.map { state in
            var state = state
            state.endedAt = state.endedAt ?? state.lastEventAt
            return .completed(state.call())
        }
    }
}

/// One dial attempt between two channels of a call.
struct Dial: Sendable {
    var destinationID: String
    var party: PartyClassifier.Party
    /// False for an Originate's own leg (no calling channel): not a party being rung.
    var fromChannel: Bool
    var status: String?
}

/// Everything the tracker knows about one call in progress.
struct CallState: Sendable {
    let id: String
    let startedAt: Date
    var lastEventAt: Date
    var channels: Set<String> = []
    var hungUp: Set<String> = []
    /// The caller-id of the first channel (Uniqueid == Linkedid) and of each dialling channel.
    var callers: [String: String] = [:]
    var direction: CallDirection?
    var callerExtension: String?
    var customerPhone: String?
    var dials: [Dial] = []
    var extensions: [String] = []
    var answeredBy: String?
    var answeredAt: Date?
    var endedAt: Date?
    var callerChannel: String?

    init(id: String, startedAt: Date) {
        self.id = id
        self.startedAt = startedAt
        self.lastEventAt = startedAt
    }

    var isFinished: Bool { !channels.isEmpty && channels.isSubset(of: hungUp) }

    mutating func noteChannel(uniqueID: String?, name: String?, caller: String?, parties: PartyClassifier) {
        guard let uniqueID, !uniqueID.isEmpty else { return }
        channels.insert(uniqueID)
        if uniqueID == id, callerChannel == nil, let name, !name.isEmpty { callerChannel = name }
        if let caller, parties.number(caller) != .unknown { callers[uniqueID] = caller }
    }

    mutating func addExtension(_ number: String) {
        if !extensions.contains(number) { extensions.append(number) }
    }

    mutating func dialBegan(_ message: AMIMessage, at time: Date, parties: PartyClassifier) -> [CallTracker.Update] {
        guard let destinationID = message["DestUniqueid"] else { return [] }
        let party = parties.destination(channel: message["DestChannel"], exten: message["DestExten"])
        let sourceID = message["Uniqueid"]
        let fromChannel = sourceID != nil && destinationID != id
        dials.append(Dial(destinationID: destinationID, party: party, fromChannel: fromChannel))
        guard fromChannel else { return [] }
        // The calling side: the dialling channel's caller-id, else the first channel's.
        let caller = parties.number(message["CallerIDNum"] ?? sourceID.flatMap { callers[$0] } ?? callers[id])
        switch (caller, party) {
        case (.outside(let phone), _):
            if direction == nil {
                direction = .inbound
                customerPhone = phone
            }
        case (.extensionNumber(let number), .outside(let phone)):
            if direction == nil || direction == .internal {
                direction = .outbound
                callerExtension = number
                customerPhone = phone
                addExtension(number)
                return [.ringing(callID: id, direction: .outbound, phone: phone, extension: number)]
            }
        case (.extensionNumber(let number), .extensionNumber):
            if direction == nil {
                direction = .internal
                callerExtension = number
                addExtension(number)
            }
        default:
            break
        }
        if case .extensionNumber(let number) = party, direction != .outbound {
            addExtension(number)
            return [.ringing(callID: id, direction: direction ?? .inbound, phone: customerPhone, extension: number)]
        }
        return []
    }

    mutating func dialEnded(_ message: AMIMessage, at time: Date) -> [CallTracker.Update] {
        guard let destinationID = message["DestUniqueid"],
            let index = dials.lastIndex(where: { $0.destinationID == destinationID && $0.status == nil })
        else { return [] }
        let status = message["DialStatus"] ?? "UNKNOWN"
        dials[index].status = status
        let dial = dials[index]
        guard status == "ANSWER", dial.fromChannel, answeredAt == nil else { return [] }
        switch (direction, dial.party) {
        case (.outbound, .outside):
            answeredBy = callerExtension
        case (.inbound, .extensionNumber(let number)), (.internal, .extensionNumber(let number)):
            answeredBy = number
        default:
            return []
        }
        answeredAt = time
        guard let answeredBy, let direction else { return [] }
        return [.answered(callID: id, direction: direction, phone: customerPhone, extension: answeredBy)]
    }

    /// The dials that decide the outcome: to outside numbers for outbound calls, to extensions otherwise.
    private var relevantDials: [Dial] {
        dials.filter { dial in
            guard dial.fromChannel else { return false }
            switch (direction, dial.party) {
            case (.outbound, .outside): return true
            case (.outbound, _): return false
            case (_, .extensionNumber): return true
            default: return false
            }
        }
    }

    var outcome: CallOutcome {
        if answeredAt != nil { return .answered }
        let statuses = Set(relevantDials.compactMap(\.status))
        if statuses.contains("BUSY") { return .busy }
        if statuses.contains("NOANSWER") { return .noAnswer }
        if statuses.contains("CANCEL") { return .abandoned }
        if statuses.contains("CHANUNAVAIL") || statuses.contains("CONGESTION") { return .failed }
        if relevantDials.isEmpty {
            // Nobody was dialled: an inbound caller who left in the menu, or a click-to-call whose
            // manager never picked up the first leg.
            if direction == .outbound || callerExtension != nil { return .noAnswer }
            return direction == nil || direction == .inbound ? .abandoned : .unknown
        }
        return .unknown
    }

    func call() -> Call {
        let end = endedAt ?? lastEventAt
        let ringing = relevantDials.compactMap { dial -> String? in
            if case .extensionNumber(let number) = dial.party { return number }
            return nil
        }
        var all = extensions
        for number in ringing where !all.contains(number) { all.append(number) }
        return Call(
            externalID: id, direction: direction ?? .inbound, customerPhone: customerPhone, extensions: all,
            answeredBy: answeredBy, startedAt: startedAt, answeredAt: answeredAt, endedAt: end,
            duration: max(0, Int(end.timeIntervalSince(startedAt).rounded(.down))),
            billsec: answeredAt.map { max(0, Int(end.timeIntervalSince($0).rounded(.down))) } ?? 0,
            outcome: outcome)
    }
}
