import Foundation
import SwitchboardCore

/// Generated call history for the demo and the analytics tests — sample data, not a PBX: calls spread
/// over the last `days` days the way an office's calls are (weekdays, 9:00–19:00 with a lunch dip, a few at
/// weekends), 70 % inbound, outcomes and talk times by direction, answered by the given extensions.
/// Deterministic for a seed.
public enum CallHistoryGenerator {
    public static func calls(count: Int, days: Int = 90, extensions: [String], seed: UInt64 = 2026, now: Date = Date(), timeZone: TimeZone = .gmt) -> [Call] {
        var random = SplitMix64(seed: seed)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.startOfDay(for: now)
        let hours: [(Int, Int)] = [(9, 6), (10, 10), (11, 12), (12, 9), (13, 5), (14, 9), (15, 11), (16, 10), (17, 8), (18, 5), (19, 2), (20, 1), (8, 2)]
        let hourTotal = hours.map(\.1).reduce(0, +)
        func pick<T>(_ weighted: [(T, Int)]) -> T {
            var roll = Int(random.next() % UInt64(weighted.map(\.1).reduce(0, +)))
            for (value, weight) in weighted {
                if roll < weight { return value }
                roll -= weight
            }
            return weighted[0].0
        }
        var out: [Call] = []
        out.reserveCapacity(count)
        var attempts = 0
        while out.count < count, attempts < count * 20 {
            attempts += 1
            let dayBack = Int(random.next() % UInt64(max(days, 1)))
            guard let day = calendar.date(byAdding: .day, value: -dayBack, to: today) else { continue }
            let weekend = calendar.isDateInWeekend(day)
            // Weekends keep one call in eight.
            if weekend, random.next() % 8 != 0 { continue }
            var hour = hours[0].0
            var roll = Int(random.next() % UInt64(hourTotal))
            for (value, weight) in hours {
                if roll < weight { hour = value; break }
                roll -= weight
            }
            let start = day.addingTimeInterval(Double(hour * 3600) + Double(random.next() % 3600))
            guard start < now else { continue }
            let inbound = random.next() % 10 < 7
            let outcome: CallOutcome = inbound
                ? pick([(.answered, 75), (.noAnswer, 12), (.abandoned, 8), (.busy, 5)])
                : pick([(.answered, 60), (.noAnswer, 30), (.busy, 10)])
            let ext = extensions.isEmpty ? nil : extensions[Int(random.next() % UInt64(extensions.count))]
            let ring = 3 + Int(random.next() % 25)
            let talk = outcome == .answered ? 20 + Int(random.next() % 240) + (random.next() % 5 == 0 ? Int(random.next() % 900) : 0) : 0
            let phone = "+79\(String(format: "%09d", Int(random.next() % 1_000_000_000)))"
            out.append(Call(
                externalID: "hist-\(seed)-\(out.count + 1)", direction: inbound ? .inbound : .outbound, customerPhone: phone, trunk: "sip-trunk-1",
                extensions: ext.map { [$0] } ?? [], answeredBy: outcome == .answered ? ext : nil, startedAt: start,
                answeredAt: outcome == .answered ? start.addingTimeInterval(Double(ring)) : nil, endedAt: start.addingTimeInterval(Double(ring + talk)),
                duration: ring + talk, billsec: talk, outcome: outcome))
        }
        return out.sorted { $0.startedAt < $1.startedAt }
    }
}
