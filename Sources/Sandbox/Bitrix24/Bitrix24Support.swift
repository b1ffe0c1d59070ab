import Foundation
import SwitchboardCore

/// Small helpers shared by the Bitrix24 emulator (tests and demo only, never a real CRM).
enum B24 {
    /// Moscow time, the emulated portal's time zone (no DST since 2014).
    static let offsetSeconds = 3 * 3600

    /// `2024-09-02T18:37:18+03:00` for a unix time, in the portal's zone.
    static func iso(_ time: Double) -> String {
        let local = Int(time.rounded(.down)) + offsetSeconds
        let days = local >= 0 ? local / 86400 : (local - 86399) / 86400
        let seconds = local - days * 86400
        let (y, m, d) = civil(fromDays: days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : String(n) }
        return "\(y)-\(two(m))-\(two(d))T\(two(seconds / 3600)):\(two(seconds % 3600 / 60)):\(two(seconds % 60))+03:00"
    }

    /// Reads `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]` (also with a space) and `DD.MM.YYYY[ HH:MM[:SS]]`;
    /// without an offset the portal's zone applies. `nil` when it is not a date.
    static func parseDate(_ text: String) -> Double? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let chars = Array(s.utf8)
        func num(_ from: Int, _ length: Int) -> Int? {
            guard from + length <= chars.count else { return nil }
            var value = 0
            for c in chars[from..<(from + length)] {
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            return value
        }
        var y: Int, mo: Int, d: Int, index: Int
        if let yy = num(0, 4), chars.count >= 10, chars[4] == UInt8(ascii: "-"), let mm = num(5, 2), let dd = num(8, 2) {
            (y, mo, d, index) = (yy, mm, dd, 10)
        } else if let dd = num(0, 2), chars.count >= 10, chars[2] == UInt8(ascii: "."), let mm = num(3, 2), let yy = num(6, 4) {
            (y, mo, d, index) = (yy, mm, dd, 10)
        } else {
            return nil
        }
        guard (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var h = 0, mi = 0, se = 0
        var offset = offsetSeconds
        if index < chars.count, chars[index] == UInt8(ascii: "T") || chars[index] == UInt8(ascii: " ") {
            guard let hh = num(index + 1, 2), let mm = num(index + 4, 2) else { return nil }
            (h, mi) = (hh, mm)
            index += 6
            if index < chars.count, chars[index] == UInt8(ascii: ":") {
                guard let ss = num(index + 1, 2) else { return nil }
                se = ss
                index += 3
            }
            if index < chars.count, chars[index] == UInt8(ascii: ".") {  // fractions are ignored
                index += 1
                while index < chars.count, chars[index] >= 48, chars[index] <= 57 { index += 1 }
            }
            if index < chars.count {
                if chars[index] == UInt8(ascii: "Z") {
                    offset = 0
                    index += 1
                } else if chars[index] == UInt8(ascii: "+") || chars[index] == UInt8(ascii: "-") {
                    let sign = chars[index] == UInt8(ascii: "+") ? 1 : -1
                    guard let oh = num(index + 1, 2) else { return nil }
                    var om = 0
                    if index + 3 < chars.count {
                        let start = chars[index + 3] == UInt8(ascii: ":") ? index + 4 : index + 3
                        guard let value = num(start, 2) else { return nil }
                        om = value
                        index = start + 2
                    } else {
                        index += 3
                    }
                    offset = sign * (oh * 3600 + om * 60)
                }
            }
        }
        guard index == chars.count else { return nil }
        return Double(days(fromCivil: y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset)
    }

    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int { CivilCalendar.days(year: year, month: month, day: day) }

    static func civil(fromDays days: Int) -> (Int, Int, Int) {
        let date = CivilCalendar.date(days: days)
        return (date.year, date.month, date.day)
    }

    /// FNV-1a: a stable hash of a string (Swift's `hashValue` changes between runs).
    static func stableHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    /// A value as Bitrix24 prints a scalar: strings stay, numbers without a needless fraction, flags `Y`/`N`.
    static func text(_ value: JSONValue?) -> String? {
        if case .bool(let flag)? = value { return flag ? "Y" : "N" }
        return value?.scalarText
    }

    /// Digits of a phone number, the leading 8 of a Russian number read as 7.
    static func phoneDigits(_ phone: String) -> String {
        var digits = phone.filter(\.isASCII).filter(\.isNumber)
        if digits.count == 11, digits.hasPrefix("8") { digits = "7" + digits.dropFirst() }
        if digits.count == 10 { digits = "7" + digits }
        return digits
    }

    static func hex(_ rng: inout SplitMix64, count: Int) -> String {
        var out = ""
        while out.count < count { out += String(rng.next(), radix: 16).leftPad(16) }
        return String(out.prefix(count))
    }
}

extension String {
    fileprivate func leftPad(_ length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}

extension JSONValue {
    /// The elements of an array, or `nil` for any other value.
    var b24Array: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// Parses a JSON document (`nil` when it is not JSON).
    static func b24Parse(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    /// Compact JSON text.
    var b24Text: String {
        (try? String(decoding: JSONEncoder().encode(self), as: UTF8.self)) ?? "null"
    }
}

/// Reads the member names of one object of a JSON document in the order they were written
/// (`JSONValue` keeps objects in a dictionary, which loses the order `batch` needs).
enum OrderedJSONKeys {
    /// The keys of the object at `path` (member names from the root), or `nil` when there is none.
    static func keys(at path: [String], in text: String) -> [String]? {
        var scanner = Scanner(bytes: Array(text.utf8))
        return scanner.find(path: path[...])
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        /// At a value: when `path` is empty and the value is an object, its keys; else descends.
        mutating func find(path: ArraySlice<String>) -> [String]? {
            skipSpace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
            index += 1
            var keys: [String] = []
            while true {
                skipSpace()
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return path.isEmpty ? keys : nil }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard let key = string() else { return nil }
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                index += 1
                if path.isEmpty {
                    keys.append(key)
                    guard skipValue() else { return nil }
                } else if key == path.first! {
                    let start = index
                    if let found = find(path: path.dropFirst()) { return found }
                    index = start
                    guard skipValue() else { return nil }
                } else {
                    guard skipValue() else { return nil }
                }
            }
        }

        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            let start = index
            index += 1
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                if bytes[index] == UInt8(ascii: "\\") { index += 1 }
                index += 1
            }
            guard index < bytes.count else { return nil }
            index += 1
            let literal = String(decoding: bytes[start..<index], as: UTF8.self)
            return (try? JSONDecoder().decode(String.self, from: Data(literal.utf8)))
        }

        mutating func skipValue() -> Bool {
            skipSpace()
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "\""): return string() != nil
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while index < bytes.count {
                    let byte = bytes[index]
                    if byte == UInt8(ascii: "\"") { guard string() != nil else { return false }; continue }
                    if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                    if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                        depth -= 1
                        if depth == 0 { index += 1; return true }
                    }
                    index += 1
                }
                return false
            default:
                while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(bytes[index]) { index += 1 }
                return true
            }
        }
    }
}
