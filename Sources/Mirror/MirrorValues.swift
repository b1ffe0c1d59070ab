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
            // amoCRM sends date fields as unix seconds at midnight in the account's zone: noon of that day
            // in UTC is the same calendar day for any zone within ±12 h.
            if case .number(let seconds) = value, seconds.isFinite {
                return String(sqliteTimestamp(Date(timeIntervalSince1970: seconds + 43_200), milliseconds: false).prefix(10))
            }
            guard let text = value.stringValue else { return nil }
            if text.count >= 10, let date = parseDate(text.prefix(10)) { return date }
            // `dd.MM.yyyy`, as some portals render dates.
            let parts = text.prefix(10).split(separator: ".")
            if parts.count == 3, parts[2].count == 4 { return parseDate("\(parts[2])-\(parts[1])-\(parts[0])") }
            return nil
        case .datetime:
            // amoCRM's times are unix seconds; Bitrix24's are ISO-8601 text.
            if case .number(let seconds) = value, seconds.isFinite, seconds > 0 {
                let date = Date(timeIntervalSince1970: seconds)
                return backend == .postgres ? postgresTimestamp(date) : sqliteTimestamp(date, milliseconds: false)
            }
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
    public static func parseTimestamp(_ text: String) -> Date? { CivilCalendar.parseTimestamp(text) }

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


    static func civilUTC(_ date: Date) -> (String, Int) {
        let totalMillis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let millis = Int(((totalMillis % 1000) + 1000) % 1000)
        let seconds = (totalMillis - Int64(millis)) / 1000
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let rest = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = CivilCalendar.date(days: days)
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
}
