import Asterisk
import Foundation

/// Synthetic AMI event sequences shaped like Asterisk 22's (Local channels, `Linkedid`, `DialBegin` /
/// `DialEnd`, `Hangup`), so the demo's emulated PBX can place calls. Tests use the recorded captures.
public enum PBXScenarios {
    /// An outside caller rings `extension`; answered after a second when `answered`, else it rings out.
    public static func inbound(id: Double, caller: String, extension number: String, answered: Bool, talk: Double = 42) -> [AMIMessage] {
        let linked = String(format: "%.1f", id)
        let (trunkA, trunkB, phoneA, phoneB) = (linked, String(format: "%.1f", id + 0.1), String(format: "%.1f", id + 0.2), String(format: "%.1f", id + 0.3))
        let trunk = "Local/\(number)@from-pstn-demo;"
        let phone = "Local/\(number)@phones-demo;"
        var events = [
            channel("Newchannel", trunk + "1", trunkA, linked, caller, "from-pstn", number, at: id),
            channel("Newchannel", trunk + "2", trunkB, linked, caller, "from-pstn", number, at: id),
            channel("Newchannel", phone + "1", phoneA, linked, "<unknown>", "phones", number, at: id + 0.001),
            channel("Newchannel", phone + "2", phoneB, linked, "<unknown>", "phones", number, at: id + 0.001),
            dial("DialBegin", from: (trunk + "2", trunkB, caller), to: (phone + "1", phoneA, number), linked: linked, at: id + 0.002),
        ]
        let end: Double
        if answered {
            events.append(dial("DialEnd", from: (trunk + "2", trunkB, caller), to: (phone + "1", phoneA, number), linked: linked, status: "ANSWER", at: id + 1))
            end = id + 1 + talk
        } else {
            events.append(dial("DialEnd", from: (trunk + "2", trunkB, caller), to: (phone + "1", phoneA, number), linked: linked, status: "NOANSWER", at: id + 15))
            end = id + 15
        }
        for (name, unique) in [(phone + "2", phoneB), (phone + "1", phoneA), (trunk + "2", trunkB), (trunk + "1", trunkA)] {
            events.append(hangup(name, unique, linked, at: end))
        }
        return events
    }

    /// Click-to-call: the manager's `extension` is rung first (the Originate's own leg), then the customer.
    public static func clickToCall(id: Double, extension number: String, customer: String, talk: Double = 30) -> [AMIMessage] {
        let linked = String(format: "%.1f", id)
        let (userA, userB, outA, outB) = (linked, String(format: "%.1f", id + 0.1), String(format: "%.1f", id + 0.2), String(format: "%.1f", id + 0.3))
        let user = "Local/\(number)@phone-user-demo;"
        let out = "Local/\(customer)@pstn-demo;"
        return [
            channel("Newchannel", user + "1", userA, linked, number, "phone-user", number, at: id),
            channel("Newchannel", user + "2", userB, linked, number, "phone-user", number, at: id),
            AMIMessage([("Event", "DialBegin"), ("Timestamp", stamp(id + 0.001)), ("DestChannel", user + "1"), ("DestCallerIDNum", number),
                        ("DestExten", number), ("DestUniqueid", userA), ("DestLinkedid", linked)]),
            AMIMessage([("Event", "DialEnd"), ("Timestamp", stamp(id + 1)), ("DestChannel", user + "1"), ("DestCallerIDNum", number),
                        ("DestExten", number), ("DestUniqueid", userA), ("DestLinkedid", linked), ("DialStatus", "ANSWER")]),
            channel("Newchannel", out + "1", outA, linked, "<unknown>", "pstn", customer, at: id + 1),
            channel("Newchannel", out + "2", outB, linked, "<unknown>", "pstn", customer, at: id + 1),
            dial("DialBegin", from: (user + "1", userA, number), to: (out + "1", outA, customer), linked: linked, at: id + 1.001),
            dial("DialEnd", from: (user + "1", userA, number), to: (out + "1", outA, customer), linked: linked, status: "ANSWER", at: id + 2),
            hangup(out + "2", outB, linked, at: id + 2 + talk), hangup(out + "1", outA, linked, at: id + 2 + talk),
            hangup(user + "1", userA, linked, at: id + 2 + talk), hangup(user + "2", userB, linked, at: id + 2 + talk),
        ]
    }

    /// An outside caller answered by `first`, who transfers the call to `second` (blind: `Redirect`-style
    /// transfer, the caller's channel dials `second` itself; attended: `first` consults `second` in a
    /// call of its own, then joins them). `first` hangs up at the transfer; the caller talks to `second`.
    public static func transfer(id: Double, caller: String, from first: String, to second: String, attended: Bool, talk: Double = 20) -> [AMIMessage] {
        let linked = String(format: "%.1f", id)
        let ids = (0..<6).map { String(format: "%.1f", id + 0.1 * Double($0)) }
        let trunk = "Local/\(first)@from-pstn-demo;"
        let phone = "Local/\(first)@phones-demo;"
        let target = "Local/\(second)@phones-demo;"
        var events = [
            channel("Newchannel", trunk + "1", ids[0], linked, caller, "from-pstn", first, at: id),
            channel("Newchannel", trunk + "2", ids[1], linked, caller, "from-pstn", first, at: id),
            channel("Newchannel", phone + "1", ids[2], linked, "<unknown>", "phones", first, at: id + 0.001),
            dial("DialBegin", from: (trunk + "2", ids[1], caller), to: (phone + "1", ids[2], first), linked: linked, at: id + 0.002),
            dial("DialEnd", from: (trunk + "2", ids[1], caller), to: (phone + "1", ids[2], first), linked: linked, status: "ANSWER", at: id + 2),
        ]
        let moved = id + 12
        if attended {
            // The consultation call is a call of its own (another Linkedid); the transfer joins the caller to it.
            let consult = String(format: "%.1f", id + 0.9)
            let agent = "Local/\(second)@phone-user-demo;1"
            events += [
                channel("Newchannel", agent, ids[4], consult, first, "phone-user", second, at: id + 5),
                channel("Newchannel", target + "1", ids[3], consult, "<unknown>", "phones", second, at: id + 5.001),
                dial("DialBegin", from: (agent, ids[4], first), to: (target + "1", ids[3], second), linked: consult, at: id + 5.002),
                dial("DialEnd", from: (agent, ids[4], first), to: (target + "1", ids[3], second), linked: consult, status: "ANSWER", at: id + 7),
                AMIMessage([("Event", "AttendedTransfer"), ("Timestamp", stamp(moved)), ("Result", "Success"),
                            ("OrigTransfererChannel", phone + "1"), ("OrigTransfererLinkedid", linked),
                            ("SecondTransfererChannel", target + "1"), ("SecondTransfererConnectedLineNum", second), ("SecondTransfererLinkedid", consult),
                            ("TransfereeChannel", trunk + "2"), ("TransfereeLinkedid", linked), ("DestType", "Bridge")]),
                hangup(phone + "1", ids[2], linked, at: moved),
                hangup(agent, ids[4], consult, at: moved),
                hangup(target + "1", ids[3], consult, at: moved + talk),
            ]
        } else {
            events += [
                AMIMessage([("Event", "BlindTransfer"), ("Timestamp", stamp(moved)), ("Result", "Success"),
                            ("TransfererChannel", phone + "1"), ("TransfererLinkedid", linked), ("TransfereeChannel", trunk + "2"),
                            ("TransfereeLinkedid", linked), ("Extension", second), ("Context", "phones"), ("IsExternal", "No")]),
                hangup(phone + "1", ids[2], linked, at: moved),
                channel("Newchannel", target + "1", ids[3], linked, "<unknown>", "phones", second, at: moved + 0.01),
                dial("DialBegin", from: (trunk + "2", ids[1], caller), to: (target + "1", ids[3], second), linked: linked, at: moved + 0.02),
                dial("DialEnd", from: (trunk + "2", ids[1], caller), to: (target + "1", ids[3], second), linked: linked, status: "ANSWER", at: moved + 3),
                hangup(target + "1", ids[3], linked, at: moved + 3 + talk),
            ]
        }
        let end = moved + (attended ? 0 : 3) + talk
        events += [hangup(trunk + "2", ids[1], linked, at: end), hangup(trunk + "1", ids[0], linked, at: end)]
        return events
    }

    static func stamp(_ time: Double) -> String { String(format: "%.6f", time) }

    static func channel(_ event: String, _ name: String, _ unique: String, _ linked: String, _ caller: String, _ context: String, _ exten: String, at time: Double) -> AMIMessage {
        AMIMessage([("Event", event), ("Timestamp", stamp(time)), ("Channel", name), ("CallerIDNum", caller), ("Context", context),
                    ("Exten", exten), ("Uniqueid", unique), ("Linkedid", linked)])
    }

    static func dial(
        _ event: String, from: (String, String, String), to: (String, String, String), linked: String, status: String? = nil, at time: Double
    ) -> AMIMessage {
        var headers: [(name: String, value: String)] = [
            ("Event", event), ("Timestamp", stamp(time)), ("Channel", from.0), ("CallerIDNum", from.2), ("Uniqueid", from.1), ("Linkedid", linked),
            ("DestChannel", to.0), ("DestCallerIDNum", from.2), ("DestExten", to.2), ("DestUniqueid", to.1), ("DestLinkedid", linked),
        ]
        if let status { headers.append(("DialStatus", status)) }
        return AMIMessage(headers)
    }

    static func hangup(_ name: String, _ unique: String, _ linked: String, at time: Double) -> AMIMessage {
        AMIMessage([("Event", "Hangup"), ("Timestamp", stamp(time)), ("Channel", name), ("Uniqueid", unique), ("Linkedid", linked),
                    ("Cause", "16"), ("Cause-txt", "Normal Clearing")])
    }
}
