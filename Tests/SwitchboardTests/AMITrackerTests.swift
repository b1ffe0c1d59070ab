import Foundation
import Sandbox
import SwitchboardCore
import Asterisk
import Telephony
import Testing

@Suite("AMI framing and the call tracker, against real Asterisk 22 captures")
struct AMITrackerTests {
    struct Expected: Sendable, CustomStringConvertible {
        var capture: String
        var direction: CallDirection
        var outcome: CallOutcome
        var answeredBy: String?
        var extensions: [String]
        var duration: Int
        var billsec: Int
        var description: String { capture }
    }

    static let expectations: [Expected] = [
        Expected(capture: "inbound", direction: .inbound, outcome: .answered, answeredBy: "100", extensions: ["100"], duration: 4, billsec: 3),
        Expected(capture: "inbound.full", direction: .inbound, outcome: .answered, answeredBy: "100", extensions: ["100"], duration: 4, billsec: 3),
        Expected(capture: "outbound", direction: .outbound, outcome: .answered, answeredBy: "101", extensions: ["101"], duration: 4, billsec: 3),
        Expected(capture: "missed", direction: .inbound, outcome: .noAnswer, answeredBy: nil, extensions: ["199"], duration: 5, billsec: 0),
        Expected(capture: "missed-busy", direction: .inbound, outcome: .busy, answeredBy: nil, extensions: ["198"], duration: 0, billsec: 0),
        Expected(capture: "missed-abandon", direction: .inbound, outcome: .abandoned, answeredBy: nil, extensions: ["199"], duration: 4, billsec: 0),
        Expected(capture: "click2call", direction: .outbound, outcome: .answered, answeredBy: "101", extensions: ["101"], duration: 5, billsec: 3),
        Expected(capture: "queue", direction: .inbound, outcome: .answered, answeredBy: "101", extensions: ["100", "101"], duration: 5, billsec: 3),
    ]

    /// Feeds the capture's wire bytes in random-sized pieces through the decoder into the tracker.
    static func replay(_ capture: String, seed: UInt64) throws -> (calls: [Call], updates: [CallTracker.Update]) {
        var decoder = AMIFrameDecoder()
        var tracker = CallTracker(parties: PartyClassifier(defaultCountry: "BY"))
        var random = SeededRandom(seed: seed)
        let bytes = try Fixtures.amiWire(capture)
        var updates: [CallTracker.Update] = []
        var offset = 0
        while offset < bytes.count {
            let size = 1 + Int(random.next() % 700)
            for output in decoder.feed(bytes[offset..<min(bytes.count, offset + size)]) {
                if case .message(let message) = output { updates += tracker.handle(message) }
            }
            offset += size
        }
        let calls = updates.compactMap { update -> Call? in
            if case .completed(let call) = update { return call }
            return nil
        }
        return (calls, updates)
    }

    @Test("each capture gives one call with the right direction, outcome, answerer and durations", arguments: expectations)
    func captures(expected: Expected) throws {
        let (calls, updates) = try Self.replay(expected.capture, seed: 42)
        #expect(calls.count == 1)
        let call = try #require(calls.first)
        #expect(call.direction == expected.direction)
        #expect(call.outcome == expected.outcome)
        #expect(call.answeredBy == expected.answeredBy)
        #expect(call.extensions == expected.extensions)
        #expect(call.customerPhone == "+375296254070")
        #expect(call.duration == expected.duration)
        #expect(call.billsec == expected.billsec)
        #expect((call.answeredAt != nil) == (expected.outcome == .answered))
        // Real-time updates: ringing before answered before completed; answered only when it was.
        let kinds = updates.map { update -> String in
            switch update {
            case .ringing: "ringing"
            case .answered: "answered"
            case .completed: "completed"
            }
        }
        #expect(kinds.first == "ringing" && kinds.last == "completed")
        #expect(kinds.filter { $0 == "answered" }.count == (expected.outcome == .answered ? 1 : 0))
    }

    @Test("however the bytes are split, the same calls come out", arguments: 1...6)
    func splitting(seed: UInt64) async throws {
        for expected in Self.expectations {
            await Task.yield()
            #expect(try Self.replay(expected.capture, seed: seed).calls == Self.replay(expected.capture, seed: 42).calls)
        }
    }

    @Test("all captures interleaved on one connection still give eight separate calls")
    func interleaved() throws {
        var tracker = CallTracker(parties: PartyClassifier(defaultCountry: "BY"))
        var streams = try Self.expectations.map { try Fixtures.amiCapture($0.capture).filter { $0["Linkedid"] != nil || $0["DestLinkedid"] != nil } }
        // inbound.full repeats inbound's ids: give its call its own id space.
        streams[1] = streams[1].map { message in
            AMIMessage(message.headers.map { ($0.name, $0.name.hasSuffix("id") || $0.name.hasSuffix("Linkedid") ? "full-" + $0.value : $0.value) })
        }
        var random = SeededRandom(seed: 7)
        var calls: [Call] = []
        while streams.contains(where: { !$0.isEmpty }) {
            let index = Int(random.next() % UInt64(streams.count))
            guard !streams[index].isEmpty else { continue }
            for case .completed(let call) in tracker.handle(streams[index].removeFirst()) { calls.append(call) }
        }
        #expect(calls.count == 8)
        #expect(tracker.activeCallIDs.isEmpty)
        #expect(Set(calls.map(\.outcome)) == [.answered, .noAnswer, .busy, .abandoned])
    }

    @Test("the decoder reads the banner, CRLF and bare-LF lines, and cuts off oversized messages")
    func framing() {
        var decoder = AMIFrameDecoder(maxMessageBytes: 200)
        let outputs = decoder.feed(Array("Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: 1\r\nMessage: Authentication accepted\r\n\r\nEvent: FullyBooted\nStatus: Fully Booted\n\n".utf8))
        #expect(outputs.count == 3)
        #expect(outputs.first == .banner("Asterisk Call Manager/11.0.0"))
        if case .message(let login) = outputs[1] {
            #expect(login.response == "Success" && login.actionID == "1" && login["message"] == "Authentication accepted")
        } else {
            Issue.record("no login response")
        }
        let big = decoder.feed(Array(("Event: Big\r\nData: " + String(repeating: "x", count: 500) + "\r\n\r\nEvent: Small\r\n\r\n").utf8))
        #expect(big.first == .oversized(bytes: 201))
        #expect(big.last == .message(AMIMessage([("Event", "Small")])))
    }

    @Test("encoding an action cannot inject headers")
    func encoding() {
        let action = AMIMessage([("Action", "Originate"), ("Channel", "PJSIP/101\r\nAction: Command"), ("Variable", "A=1\nB=2")])
        let text = action.encoded()
        #expect(text == "Action: Originate\r\nChannel: PJSIP/101 Action: Command\r\nVariable: A=1 B=2\r\n\r\n")
        var decoder = AMIFrameDecoder(expectBanner: false)
        #expect(decoder.feed(Array(text.utf8)).count == 1)
    }

    @Test("fuzzed frames never crash the decoder or the tracker", arguments: 0..<4)
    func fuzz(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed &+ 100)
        let corpus = try Fixtures.amiWire("queue") + Fixtures.amiWire("missed-busy", banner: false)
        let alphabet = Array("Event: Linkedid Uniqueid DestUniqueid DialBegin DialEnd Hangup :\r\n\n ;/@-+0123456789ÿ".utf8)
        for _ in 0..<30 {
            await Task.yield()  // long CPU loops must not hold a cooperative thread for the whole run
            var bytes = corpus
            for _ in 0..<Int(random.next() % 200) {
                let position = Int(random.next() % UInt64(bytes.count))
                switch random.next() % 3 {
                case 0: bytes[position] = alphabet[Int(random.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: position)
                default: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
                }
            }
            var decoder = AMIFrameDecoder(maxMessageBytes: 4096)
            var tracker = CallTracker()
            var offset = 0
            while offset < bytes.count {
                let size = 1 + Int(random.next() % 300)
                for case .message(let message) in decoder.feed(bytes[offset..<min(bytes.count, offset + size)]) {
                    _ = tracker.handle(message)
                }
                offset += size
            }
            let leftovers = tracker.expire(idleSince: .distantFuture)
            #expect(tracker.activeCallIDs.isEmpty)
            #expect(leftovers.allSatisfy { if case .completed = $0 { true } else { false } })
        }
    }

    @Test("the demo PBX's synthetic calls read like real ones")
    func syntheticScenarios() {
        var tracker = CallTracker()
        var calls: [Call] = []
        let events = PBXScenarios.inbound(id: 1_800_000_000, caller: "+79161234567", extension: "101", answered: true)
            + PBXScenarios.inbound(id: 1_800_000_100, caller: "89161234567", extension: "100", answered: false)
            + PBXScenarios.clickToCall(id: 1_800_000_200, extension: "101", customer: "+375296254070")
        for event in events {
            for case .completed(let call) in tracker.handle(event) { calls.append(call) }
        }
        #expect(calls.map(\.outcome) == [.answered, .noAnswer, .answered])
        #expect(calls.map(\.direction) == [.inbound, .inbound, .outbound])
        #expect(calls.map(\.answeredBy) == ["101", nil, "101"])
        #expect(calls.map(\.customerPhone) == ["+79161234567", "+79161234567", "+375296254070"])
        #expect(calls[0].billsec == 42 && calls[2].billsec == 30)
    }

    @Test("numbers read as extensions, E.164 or nothing", arguments: [
        ("101", "RU", "ext"), ("+375296254070", "RU", "+375296254070"), ("89161234567", "RU", "+79161234567"),
        ("9161234567", "RU", "+79161234567"), ("80291234567", "BY", "+375291234567"), ("375291234567", "BY", "+375291234567"),
        ("8 (916) 123-45-67", "RU", "+79161234567"), ("<unknown>", "RU", "-"), ("anonymous", "RU", "-"), ("0037529123456", "RU", "+37529123456"),
    ])
    func numbers(raw: String, country: String, expected: String) {
        let party = PartyClassifier(defaultCountry: country).number(raw)
        switch party {
        case .extensionNumber: #expect(expected == "ext")
        case .outside(let phone): #expect(phone == expected)
        case .unknown: #expect(expected == "-")
        }
    }

    @Test("a transferred call stays one call until the customer hangs up; both agents are on it", arguments: [false, true])
    func transfers(attended: Bool) throws {
        var tracker = CallTracker(parties: PartyClassifier(defaultCountry: "RU"))
        var completed: [Call] = []
        var ringing: [String] = []
        for event in PBXScenarios.transfer(id: 1_795_000_000, caller: "+79161234567", from: "100", to: "101", attended: attended, talk: 20) {
            for update in tracker.handle(event) {
                switch update {
                case .completed(let call): completed.append(call)
                case .ringing(_, _, _, let number): ringing.append(number)
                case .answered: break
                }
            }
        }
        let customerCalls = completed.filter { $0.customerPhone == "+79161234567" }
        #expect(customerCalls.count == 1, "the transferring agent hanging up does not end the customer's call")
        let call = try #require(customerCalls.first)
        #expect(call.direction == .inbound && call.outcome == .answered && call.answeredBy == "100")
        #expect(call.extensions == ["100", "101"] && ringing.contains("101"))
        #expect(call.duration == (attended ? 32 : 35) && call.billsec == (attended ? 30 : 33))
        #expect(tracker.activeCallIDs.isEmpty)
        if attended {
            // The consultation is an internal call of its own, never a customer call.
            #expect(completed.count == 2 && completed.contains { $0.direction == .internal && $0.customerPhone == nil })
        }
    }
}
