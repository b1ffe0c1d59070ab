import Foundation
import Storage
import SwitchboardCore

/// Turns the values CRMs send (Bitrix24 sends every scalar as a string) into the canonical text each
/// mirror column type is written as. A value that does not fit its type becomes NULL — the row's `raw`
/// JSON still has it — so one odd value never fails a whole page.
public enum MirrorValues {
    /// The canonical text of `value` stored as `type`, or nil for NULL.
    public static func canonical(_ value: JSONValue?, as type: MirrorFieldType, backend: DatabaseBackend) -> String? {
        guard let value, value != .null else { return nil }
        if case .string(let text) = value, text.isEmpty { return nil }
        switch type {
        case .text:
            switch value {
            case .string(let text): return text
            case .number(let number): return formatNumber(number)
            case .bool(let flag): return flag ? "Y" : "N"
            default: return value.jsonText
            }
        case .integer:
            switch value {
            case .number(let number) where number.rounded() == number && abs(number) < 9e15: return String(Int64(number))
            case .string(let text): return Int64(text.trimmingCharacters(in: .whitespaces)).map(String.init)
            default: return nil
            }
        case .decimal:
            switch value {
            case .number(let number) where number.isFinite: return formatNumber(number)
            case .string(let text):
                // Money user fields read `100.50|RUB`.
                let amount = text.split(separator: "|", maxSplits: 1).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
                return isDecimal(amount) ? amount : nil
            default: return nil
            }
        case .boolean:
            let flag: Bool?
            switch value {
            case .bool(let value): flag = value
            case .number(let number): flag = number != 0
            case .string(let text):
                switch text.uppercased() {
                case "Y", "1", "TRUE", "YES": flag = true
                case "N", "0", "FALSE", "NO": flag = false
                default: flag = nil
                }
            default: flag = nil
            }
            return flag.map { backend == .postgres ? ($0 ? "true" : "false") : ($0 ? "1" : "0") }
        case .date:
            guard let text = value.stringValue else { return nil }
            if text.count >= 10, let date = parseDate(text.prefix(10)) { return date }
            // `dd.MM.yyyy`, as some portals render dates.
            let parts = text.prefix(10).split(separator: ".")
            if parts.count == 3, parts[2].count == 4 { return parseDate("\(parts[2])-\(parts[1])-\(parts[0])") }
            return nil
        case .datetime:
            guard let text = value.stringValue, let date = parseTimestamp(text) else { return nil }
            return backend == .postgres ? postgresTimestamp(date) : sqliteTimestamp(date, milliseconds: false)
        case .json:
            switch value {
            case .array, .object: return value.jsonText
            default: return JSONValue.array([value]).jsonText
            }
        }
    }

    /// What the label column of an enumerated field holds: the label of the stored id (several ids: labels joined by ", ").
    public static func label(_ value: JSONValue?, enumValues: [String: String]) -> String? {
        guard let value, !enumValues.isEmpty else { return nil }
        switch value {
        case .string(let id): return id.isEmpty ? nil : enumValues[id]
        case .number(let number): return enumValues[formatNumber(number)]
        case .array(let items):
            let labels = items.compactMap { label($0, enumValues: enumValues) }
            return labels.isEmpty ? nil : labels.joined(separator: ", ")
        default: return nil
        }
    }

    static func formatNumber(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 9e15 ? String(Int64(number)) : String(number)
    }

    static func isDecimal(_ text: String) -> Bool {
        var digits = 0, dots = 0
        for (index, character) in text.enumerated() {
            if character.isASCII && character.isNumber { digits += 1 } else if character == "." { dots += 1 } else if (character == "-" || character == "+") && index == 0 {
                continue
            } else { return false }
        }
        return digits > 0 && dots <= 1
    }

    static func parseDate(_ text: Substring) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == 45, bytes[7] == 45, let year = number(bytes[0..<4]), let month = number(bytes[5..<7]),
            let day = number(bytes[8..<10]), (1...12).contains(month), (1...31).contains(day), year > 0
        else { return nil }
        return String(text)
    }

    // MARK: timestamps (hand-rolled: formatters are slow and not Sendable, and a sync formats millions)

    /// Parses ISO-8601 `2024-09-02T18:37:18+02:00` (also `Z`, a space for `T`, fractional seconds, no offset = UTC).
    public static func parseTimestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84 || bytes[10] == 32, bytes[13] == 58, bytes[16] == 58,
            let year = number(bytes[0..<4]), let month = number(bytes[5..<7]), let day = number(bytes[8..<10]),
            let hour = number(bytes[11..<13]), let minute = number(bytes[14..<16]), let second = number(bytes[17..<19]),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == 46 {
            var scale = 0.1
            index += 1
            while index < bytes.count, (48...57).contains(bytes[index]) {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        if index < bytes.count {
            switch bytes[index] {
            case 90: offset = 0  // Z
            case 43, 45:  // + -
                let digits = bytes[(index + 1)...].filter { $0 != 58 }
                guard digits.count == 4 || digits.count == 2, let hours = number(digits.prefix(2)[...]) else { return nil }
                let minutes = digits.count == 4 ? (number(digits.suffix(2)[...]) ?? 0) : 0
                offset = (hours * 60 + minutes) * 60 * (bytes[index] == 45 ? -1 : 1)
            default: return nil
            }
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    /// `2024-09-02 16:37:18.000` (UTC) — sortable text SQLite's date functions read.
    public static func sqliteTimestamp(_ date: Date, milliseconds: Bool = true) -> String {
        let (civil, millis) = civilUTC(date)
        return milliseconds ? civil + "." + pad(millis, 3) : civil
    }

    /// `2024-09-02 16:37:18.000+00` — read by PostgreSQL as a `timestamptz`.
    public static func postgresTimestamp(_ date: Date) -> String {
        let (civil, millis) = civilUTC(date)
        return civil + "." + pad(millis, 3) + "+00"
    }

    /// Reads back what ``sqliteTimestamp(_:milliseconds:)`` wrote.
    public static func parseSQLiteTimestamp(_ text: String) -> Date? { parseTimestamp(text) }

    static func civilUTC(_ date: Date) -> (String, Int) {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let millis = Int(((totalMillis % 1000) + 1000) % 1000)
        let seconds = (totalMillis - Int64(millis)) / 1000
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let rest = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = civilFromDays(days)
        let civil = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(rest / 3600, 2)):\(pad(rest / 60 % 60, 2)):\(pad(rest % 60, 2))"
        return (civil, millis)
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    static func number(_ bytes: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in bytes {
            guard (48...57).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return bytes.isEmpty ? nil : value
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
