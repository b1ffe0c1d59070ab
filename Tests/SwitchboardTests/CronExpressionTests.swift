import Foundation
import SwitchboardCore
import Testing

@Suite("Cron expressions")
struct CronExpressionTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let moscow = TimeZone(identifier: "Europe/Moscow")!
    static let newYork = TimeZone(identifier: "America/New_York")!

    static func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test(
        "the next firing time of common expressions",
        arguments: [
            ("*/15 * * * *", "2026-11-23T10:07:00Z", "2026-11-23T10:15:00Z"),
            ("0 3 * * *", "2026-11-23T03:00:00Z", "2026-11-24T03:00:00Z"),
            ("30 9-18/3 * * mon-fri", "2026-11-21T12:00:00Z", "2026-11-23T09:30:00Z"),  // Saturday → Monday
            ("0 0 1 jan,jul *", "2026-11-23T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("0 12 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T12:00:00Z"),
            ("0 8 13 * 5", "2026-11-23T00:00:00Z", "2026-11-27T08:00:00Z"),  // day 13 OR Friday
            ("0 0 * * 7", "2026-11-23T00:00:00Z", "2026-11-29T00:00:00Z"),  // 7 is Sunday
            ("@hourly", "2026-11-23T10:59:59Z", "2026-11-23T11:00:00Z"),
            ("@weekly", "2026-11-23T00:00:00Z", "2026-11-29T00:00:00Z"),
        ])
    func next(expression: String, after: String, expected: String) throws {
        #expect(try CronExpression(expression).next(after: Self.date(after), in: Self.utc) == Self.date(expected))
    }

    @Test("wall-clock times follow the time zone, across daylight-saving changes")
    func timeZones() throws {
        let daily = try CronExpression("0 3 * * *")
        // Moscow has no DST: 03:00 MSK is always 00:00 UTC.
        #expect(daily.next(after: Self.date("2026-07-01T12:00:00Z"), in: Self.moscow) == Self.date("2026-07-02T00:00:00Z"))
        // New York: 03:00 EST (UTC−5) in winter, 03:00 EDT (UTC−4) in summer.
        #expect(daily.next(after: Self.date("2026-01-10T12:00:00Z"), in: Self.newYork) == Self.date("2026-01-11T08:00:00Z"))
        #expect(daily.next(after: Self.date("2026-07-10T12:00:00Z"), in: Self.newYork) == Self.date("2026-07-11T07:00:00Z"))
        // 2026-03-08 02:30 does not exist in New York; the firing still happens that day, after the gap.
        let gap = try CronExpression("30 2 * * *").next(after: Self.date("2026-03-08T05:00:00Z"), in: Self.newYork)
        #expect(gap.map { $0 > Self.date("2026-03-08T06:59:59Z") && $0 < Self.date("2026-03-08T09:00:00Z") } == true)
    }

    @Test(
        "bad expressions are refused with the field and the reason",
        arguments: [
            ("* * * *", "5 fields"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day-of-month"),
            ("* * * 13 *", "month"), ("* * * * 8", "day-of-week"), ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"),
            ("a * * * *", "not a number"), ("1,,2 * * * *", "malformed"), ("* * * foo *", "not a number"), ("", "5 fields"),
        ])
    func refused(expression: String, reason: String) {
        do {
            _ = try CronExpression(expression, field: "schedule.cron")
            Issue.record("'\(expression)' was accepted")
        } catch let error as SwitchboardError {
            #expect(error.field == "schedule.cron")
            #expect(error.message.contains(reason), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// Property: for random expressions and instants, `previous` and `next` agree with a brute-force
    /// minute-by-minute scan of the surrounding two days.
    @Test("previous and next agree with a minute-by-minute scan", arguments: 0..<4)
    func bruteForce(seed: Int) async throws {
        var random = SeededRandom(seed: UInt64(seed + 1))
        func field(_ range: ClosedRange<Int>) -> String {
            switch random.next() % 5 {
            case 0: return "*"
            case 1: return "\(range.lowerBound + Int(random.next() % UInt64(range.count)))"
            case 2:
                let low = range.lowerBound + Int(random.next() % UInt64(range.count))
                return "\(low)-\(min(range.upperBound, low + Int(random.next() % 5)))"
            case 3: return "*/\(1 + random.next() % 7)"
            default:
                let a = range.lowerBound + Int(random.next() % UInt64(range.count))
                let b = range.lowerBound + Int(random.next() % UInt64(range.count))
                return "\(a),\(b)"
            }
        }
        var calendar = Calendar(identifier: .gregorian)
        for _ in 0..<40 {
            await Task.yield()
            let zone = [Self.utc, Self.moscow, Self.newYork][Int(random.next() % 3)]
            calendar.timeZone = zone
            // Frequent minutes and hours so the two-day window usually holds firings.
            let text = "\(field(0...59)) \(["*", "*/2", "1-20", field(0...23)][Int(random.next() % 4)]) * * *"
            let cron = try CronExpression(text)
            let start = Date(timeIntervalSince1970: 1_760_000_000 + Double(random.next() % 40_000_000) * 60 + 17)
            var expectedNext: Date?
            var minute = (start.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60
            while minute < start.timeIntervalSince1970 + 2 * 86_400 {
                let date = Date(timeIntervalSince1970: minute)
                let parts = calendar.dateComponents([.minute, .hour], from: date)
                if Self.matches(text, minute: parts.minute!, hour: parts.hour!) {
                    expectedNext = date
                    break
                }
                minute += 60
            }
            if let expectedNext { #expect(cron.next(after: start, in: zone) == expectedNext, "\(text) after \(start) in \(zone.identifier)") }
            var expectedPrevious: Date?
            minute = (start.timeIntervalSince1970 / 60).rounded(.down) * 60
            while minute > start.timeIntervalSince1970 - 2 * 86_400 {
                let date = Date(timeIntervalSince1970: minute)
                let parts = calendar.dateComponents([.minute, .hour], from: date)
                if Self.matches(text, minute: parts.minute!, hour: parts.hour!) {
                    expectedPrevious = date
                    break
                }
                minute -= 60
            }
            if let expectedPrevious {
                #expect(cron.previous(atOrBefore: start, in: zone) == expectedPrevious, "\(text) before \(start) in \(zone.identifier)")
            }
        }
    }

    /// An independent reading of the minute and hour fields (the day fields are `*` in the property test).
    static func matches(_ text: String, minute: Int, hour: Int) -> Bool {
        let fields = text.split(separator: " ").map(String.init)
        func contains(_ field: String, _ value: Int, _ range: ClosedRange<Int>) -> Bool {
            field.split(separator: ",").contains { part in
                let pieces = part.split(separator: "/")
                let step = pieces.count == 2 ? Int(pieces[1])! : 1
                let bounds: ClosedRange<Int>
                if pieces[0] == "*" {
                    bounds = range
                } else if pieces[0].contains("-") {
                    let ends = pieces[0].split(separator: "-").map { Int($0)! }
                    bounds = ends[0]...ends[1]
                } else {
                    let start = Int(pieces[0])!
                    bounds = start...(pieces.count == 2 ? range.upperBound : start)
                }
                return bounds.contains(value) && (value - bounds.lowerBound) % step == 0
            }
        }
        return contains(fields[0], minute, 0...59) && contains(fields[1], hour, 0...23)
    }
}

/// A small deterministic generator (SplitMix64) so property failures can be replayed.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
