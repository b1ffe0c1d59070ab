import Foundation
import SwitchboardCore

/// One PBX event in the seed's format (`POST /telephony/events/{type}`): `Token` names the tenant,
/// `UniqueId` the call. Other fields the dialplan adds are kept in the stored raw event.
public struct SeedCallEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case start, dial, bridge, hangup, download
    }

    public var kind: Kind
    public var token: String
    public var uniqueID: String
    public var callerIDNum: String?
    public var connectedLineNum: String?
    public var extensions: [String]
    /// From `CallType`: 0 in, 1 out, 2 internal (logged, never sent to a CRM); nil when absent.
    public var direction: CallDirection?
    /// From `CallStatus`, on hangup and download.
    public var outcome: CallOutcome?
    public var startTime: Date?
    public var endTime: Date?
    public var duration: Int?
    public var billsec: Int?
    public var trunk: String?
    public var recordingURL: String?

    /// Accepted `CallStatus` values: Asterisk's DIALSTATUS words, the seed's words, and numbers.
    static let statuses: [String: CallOutcome] = [
        "answer": .answered, "answered": .answered, "busy": .busy, "noanswer": .noAnswer, "no answer": .noAnswer,
        "no_answer": .noAnswer, "missed": .noAnswer, "cancel": .abandoned, "abandoned": .abandoned, "congestion": .failed,
        "chanunavail": .failed, "failed": .failed, "0": .noAnswer, "1": .answered, "2": .busy, "3": .failed,
    ]

    /// Reads the event; every error names the field that is wrong.
    /// - Parameter timeZone: for `StartTime`/`EndTime` written without a zone (`2026-11-23 15:04:05`).
    public static func parse(kind: Kind, fields: [String: JSONValue], timeZone: TimeZone) throws(SwitchboardError) -> SeedCallEvent {
        func string(_ name: String, required: Bool = false, max: Int = 200) throws(SwitchboardError) -> String? {
            switch fields[name] {
            case nil, .null?:
                if required { throw .invalid(name, "\(name) is required") }
                return nil
            case .string(let text)?:
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                if required && trimmed.isEmpty { throw .invalid(name, "\(name) must not be empty") }
                guard trimmed.count <= max else { throw .invalid(name, "\(name) is longer than \(max) characters") }
                return trimmed.isEmpty ? nil : trimmed
            case .number(let number)?:
                guard number.isFinite else { throw .invalid(name, "\(name) must be a string") }
                return number == number.rounded() ? String(Int64(number)) : String(number)
            default:
                throw .invalid(name, "\(name) must be a string")
            }
        }
        func integer(_ name: String) throws(SwitchboardError) -> Int? {
            guard let text = try string(name) else { return nil }
            guard let value = Int(text), value >= 0 else { throw .invalid(name, "\(name) must be a whole number of seconds") }
            return value
        }
        let direction: CallDirection?
        switch try string("CallType") {
        case nil: direction = nil
        case "0": direction = .inbound
        case "1": direction = .outbound
        case "2": direction = .internal
        case let other?: throw .invalid("CallType", "CallType must be 0 (incoming), 1 (outgoing) or 2 (internal), not '\(other)'")
        }
        var outcome: CallOutcome?
        if let status = try string("CallStatus") {
            guard let known = statuses[status.lowercased()] else {
                throw .invalid("CallStatus", "unknown CallStatus '\(status)'; use ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL or 0–3")
            }
            outcome = known
        }
        var extensions: [String] = []
        switch fields["Extensions"] {
        case nil, .null?: break
        case .array(let items)?:
            for item in items {
                switch item {
                case .string(let text) where !text.isEmpty && text.count <= 20: extensions.append(text)
                case .number(let number) where number >= 0 && number == number.rounded(): extensions.append(String(Int64(number)))
                default: throw .invalid("Extensions", "Extensions must be a list of extension numbers")
                }
            }
        case .string(let text)?:
            extensions = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        default:
            throw .invalid("Extensions", "Extensions must be a list of extension numbers")
        }
        var recording: String?
        for name in ["RecordUrl", "recordUrl", "RecordingUrl"] where recording == nil { recording = try string(name, max: 2000) }
        if let url = recording, URL(string: url)?.scheme.map({ ["http", "https"].contains($0.lowercased()) }) != true {
            throw .invalid("RecordUrl", "RecordUrl must be an http(s) URL")
        }
        if recording?.isEmpty == true { recording = nil }
        return SeedCallEvent(
            kind: kind, token: try string("Token", required: true) ?? "", uniqueID: try string("UniqueId", required: true, max: 150) ?? "",
            callerIDNum: try string("CallerIDNum", max: 64), connectedLineNum: try string("ConnectedLineNum", max: 64),
            extensions: extensions, direction: direction, outcome: outcome,
            startTime: try time("StartTime", fields["StartTime"], timeZone: timeZone),
            endTime: try time("EndTime", fields["EndTime"], timeZone: timeZone),
            duration: try integer("Duration"), billsec: try integer("BillSec"), trunk: try string("Trunk", max: 100),
            recordingURL: recording)
    }

    /// `2026-11-23 15:04:05` (tenant's zone), ISO 8601 with a zone, or Unix seconds.
    static func time(_ name: String, _ value: JSONValue?, timeZone: TimeZone) throws(SwitchboardError) -> Date? {
        let text: String
        switch value {
        case nil, .null?: return nil
        case .number(let seconds)?:
            guard seconds > 946_684_800, seconds < 4_102_444_800 else { throw .invalid(name, "\(name) is not a plausible Unix time") }
            return Date(timeIntervalSince1970: seconds)
        case .string(let string)?: text = string.trimmingCharacters(in: .whitespaces)
        default: throw .invalid(name, "\(name) must be a time")
        }
        if text.isEmpty { return nil }
        if let seconds = Double(text) { return try time(name, .number(seconds), timeZone: timeZone) }
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return date }
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) { return date }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = timeZone
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSS"] {
            local.dateFormat = format
            if let date = local.date(from: text) { return date }
        }
        throw .invalid(name, "\(name) must look like 2026-11-23 15:04:05, an ISO 8601 time or Unix seconds")
    }
}
