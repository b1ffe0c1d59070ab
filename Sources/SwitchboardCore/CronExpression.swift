import Foundation

/// A five-field cron expression — minute, hour, day of month, month, day of week — as in Vixie cron:
/// `*`, lists `1,15`, ranges `1-5`, steps `*/10` and `9-18/3`, names `jan`…`dec` and `sun`…`sat`
/// (`0` and `7` are Sunday), and the macros `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`.
/// When both day fields are restricted a day matches if either does (the cron rule).
/// Times are wall-clock times in the given time zone.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let source: String
    let minutes: UInt64
    let hours: UInt64
    let daysOfMonth: UInt64
    let months: UInt64
    let daysOfWeek: UInt64
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public var description: String { source }

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses `text`; the error names the field `field` and says which part is wrong.
    public init(_ text: String, field: String = "cron") throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        let parts = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { String($0).lowercased() }
        guard parts.count == 5 else {
            throw SwitchboardError.invalid(field, "a cron expression has 5 fields (minute hour day month weekday), got \(parts.count)")
        }
        func parse(_ index: Int, _ name: String, _ range: ClosedRange<Int>, names: [String] = [], nameBase: Int = 0) throws -> UInt64 {
            do {
                return try Self.parseField(parts[index], range: range, names: names, nameBase: nameBase)
            } catch let message as FieldError {
                throw SwitchboardError.invalid(field, "cron \(name) field '\(parts[index])': \(message.text)")
            }
        }
        source = trimmed
        minutes = try parse(0, "minute", 0...59)
        hours = try parse(1, "hour", 0...23)
        daysOfMonth = try parse(2, "day-of-month", 1...31)
        months = try parse(3, "month", 1...12, names: Self.monthNames, nameBase: 1)
        var weekdays = try parse(4, "day-of-week", 0...7, names: Self.dayNames)
        if weekdays & (1 << 7) != 0 { weekdays = (weekdays | 1) & ~(1 << 7) }  // 7 is Sunday too
        daysOfWeek = weekdays
        dayOfMonthRestricted = !parts[2].hasPrefix("*")
        dayOfWeekRestricted = !parts[4].hasPrefix("*")
    }

    private struct FieldError: Error {
        let text: String
    }

    private static func parseField(_ text: String, range: ClosedRange<Int>, names: [String], nameBase: Int) throws -> UInt64 {
        func value(_ token: Substring) throws -> Int {
            if let number = Int(token) {
                guard range.contains(number) else { throw FieldError(text: "\(number) is outside \(range.lowerBound)–\(range.upperBound)") }
                return number
            }
            if let index = names.firstIndex(of: String(token)) { return index + nameBase }
            throw FieldError(text: "'\(token)' is not a number\(names.isEmpty ? "" : " or a name")")
        }
        var mask: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard stepParts.count <= 2, let base = stepParts.first, !base.isEmpty else { throw FieldError(text: "'\(item)' is malformed") }
            var step = 1
            if stepParts.count == 2 {
                guard let parsed = Int(stepParts[1]), parsed > 0 else { throw FieldError(text: "step '\(stepParts[1])' must be a positive number") }
                step = parsed
            }
            var (low, high): (Int, Int)
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                (low, high) = (try value(base[..<dash]), try value(base[base.index(after: dash)...]))
                guard low <= high else { throw FieldError(text: "range \(base) runs backwards") }
            } else {
                low = try value(base)
                high = stepParts.count == 2 ? range.upperBound : low
            }
            for number in stride(from: low, through: high, by: step) { mask |= 1 << UInt64(number) }
        }
        return mask
    }

    private func has(_ mask: UInt64, _ value: Int) -> Bool { mask & (1 << UInt64(value)) != 0 }

    /// Whether a calendar day matches (month and the day fields).
    func matchesDay(month: Int, day: Int, weekday: Int) -> Bool {
        guard has(months, month) else { return false }
        let dom = has(daysOfMonth, day)
        let dow = has(daysOfWeek, weekday)
        if dayOfMonthRestricted && dayOfWeekRestricted { return dom || dow }
        return dom && dow
    }

    /// The latest firing time at or before `date`, or nil if none in the previous nine years.
    public func previous(atOrBefore date: Date, in timeZone: TimeZone) -> Date? {
        search(from: date, in: timeZone, forward: false)
    }

    /// The first firing time strictly after `date`, or nil if none in the next nine years.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        search(from: date, in: timeZone, forward: true)
    }

    /// Walks day by day (nine years covers every Feb 29 and weekday combination), then picks the
    /// hour and minute within the first matching day.
    private func search(from date: Date, in timeZone: TimeZone, forward: Bool) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let start = calendar.dateComponents([.hour, .minute], from: date)
        let startMinute = (start.hour ?? 0) * 60 + (start.minute ?? 0)
        let startDay = calendar.startOfDay(for: date)
        let minuteList = (0..<60).filter { has(minutes, $0) }
        let hourList = (0..<24).filter { has(hours, $0) }
        let times = hourList.flatMap { hour in minuteList.map { hour * 60 + $0 } }
        for offset in 0..<(366 * 9) {
            guard let day = calendar.date(byAdding: .day, value: forward ? offset : -offset, to: startDay) else { return nil }
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: day)
            guard let year = parts.year, let month = parts.month, let dayOfMonth = parts.day, let weekday = parts.weekday,
                matchesDay(month: month, day: dayOfMonth, weekday: weekday - 1)
            else { continue }
            let candidates = forward ? times : times.reversed()
            for time in candidates {
                if offset == 0 && (forward ? time <= startMinute : time > startMinute) { continue }
                let components = DateComponents(year: year, month: month, day: dayOfMonth, hour: time / 60, minute: time % 60)
                // In a daylight-saving gap the clock time does not exist; Foundation moves it forward.
                guard let fire = calendar.date(from: components) else { continue }
                if forward ? fire > date : fire <= date { return fire }
            }
        }
        return nil
    }
}
