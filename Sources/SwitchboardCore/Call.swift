import Foundation

/// Who started a call, seen from the company.
public enum CallDirection: String, Sendable, Codable, CaseIterable {
    case inbound = "in"
    case outbound = "out"
    /// Extension to extension; logged, not sent to CRMs.
    case `internal`
}

/// What really happened to a call — decided from the PBX's events, never guessed.
public enum CallOutcome: String, Sendable, Codable, CaseIterable {
    case answered
    /// The called party was busy.
    case busy
    /// It rang until the ring timeout.
    case noAnswer = "no_answer"
    /// The caller hung up while it was still ringing (or before anyone was dialled).
    case abandoned
    /// The call could not be placed (unavailable, congestion).
    case failed
    case unknown
}

/// One call as the tracker builds it from either intake (seed HTTP events or native AMI).
public struct Call: Sendable, Equatable, Codable {
    /// The PBX's id of the call (AMI `Linkedid`, seed `UniqueId`).
    public var externalID: String
    public var direction: CallDirection
    /// The customer's number in E.164 (`+79161234567`) when it could be read, else as the PBX sent it.
    public var customerPhone: String?
    public var trunk: String?
    /// Every extension that rang or called, in order.
    public var extensions: [String]
    /// The extension that talked to the customer (inbound: who picked up; outbound: who called).
    public var answeredBy: String?
    public var startedAt: Date
    public var answeredAt: Date?
    public var endedAt: Date?
    /// Whole seconds from start to end, and from answer to end (as Asterisk's CDR counts them).
    public var duration: Int
    public var billsec: Int
    public var outcome: CallOutcome
    public var recordingURL: String?

    public init(
        externalID: String, direction: CallDirection, customerPhone: String? = nil, trunk: String? = nil, extensions: [String] = [],
        answeredBy: String? = nil, startedAt: Date, answeredAt: Date? = nil, endedAt: Date? = nil, duration: Int = 0, billsec: Int = 0,
        outcome: CallOutcome, recordingURL: String? = nil
    ) {
        self.externalID = externalID
        self.direction = direction
        self.customerPhone = customerPhone
        self.trunk = trunk
        self.extensions = extensions
        self.answeredBy = answeredBy
        self.startedAt = startedAt
        self.answeredAt = answeredAt
        self.endedAt = endedAt
        self.duration = duration
        self.billsec = billsec
        self.outcome = outcome
        self.recordingURL = recordingURL
    }
}

/// Where a call's events came from.
public enum CallSource: String, Sendable, Codable, CaseIterable {
    /// The seed's HTTP events from the dialplan.
    case http
    /// Switchboard's own AMI connection.
    case ami
    /// The history stream (`download`): logged and uploaded, no live card.
    case download
}

/// How far a call has got.
public enum CallProgress: String, Sendable, Codable, CaseIterable {
    case ringing, answered, completed
}

/// A stored call: the tracker's ``Call`` plus bookkeeping.
public struct CallRecord: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var source: CallSource
    public var progress: CallProgress
    /// Whether a dial (the live card) was seen or synthesised, so a hangup need not make one up.
    public var dialSeen: Bool
    public var call: Call
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenantID: String, source: CallSource, progress: CallProgress, dialSeen: Bool = false, call: Call,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.source = source
        self.progress = progress
        self.dialSeen = dialSeen
        self.call = call
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Effect-ledger keys of a call's CRM steps, shared by the dispatcher that records them and the call
/// mirror that reads what the CRM answered.
public enum CallEffectKey {
    /// `bitrix24:<call external id>:<register|finish|record>`.
    public static func bitrix24(_ callExternalID: String, _ step: String) -> String { "bitrix24:\(callExternalID):\(step)" }
}
