import Foundation

/// Phone numbers to E.164, with the national dialling habits of the markets we serve
/// (`8 916 …` in Russia and Kazakhstan, `80 29 …` in Belarus, `0 67 …` in Ukraine).
public enum PhoneNumber {
    /// Whether `text` can be an internal number (1–20 of `0-9 * #`): what a dialplan may receive as an
    /// extension, never a channel string or an outside number in disguise.
    public static func isExtensionCode(_ text: String) -> Bool {
        (1...20).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isNumber || $0 == "*" || $0 == "#") }
    }

    struct Plan {
        let code: String
        /// The trunk prefix dialled before national numbers.
        let trunk: String
        let nationalLength: Int
    }

    static let plans: [String: Plan] = [
        "RU": Plan(code: "7", trunk: "8", nationalLength: 10), "KZ": Plan(code: "7", trunk: "8", nationalLength: 10),
        "BY": Plan(code: "375", trunk: "80", nationalLength: 9), "UA": Plan(code: "380", trunk: "0", nationalLength: 9),
        "UZ": Plan(code: "998", trunk: "", nationalLength: 9), "AM": Plan(code: "374", trunk: "0", nationalLength: 8),
        "GE": Plan(code: "995", trunk: "0", nationalLength: 9), "KG": Plan(code: "996", trunk: "0", nationalLength: 9),
    ]

    /// `+<digits>` for anything that reads as a full number, or nil (extensions, `<unknown>`, garbage).
    public static func e164(_ raw: String, defaultCountry: String = "RU") -> String? {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.filter(\.isASCII).filter(\.isNumber)
        guard !digits.isEmpty, trimmed.allSatisfy({ $0.isNumber || " +-().".contains($0) }) else { return nil }
        if trimmed.hasPrefix("+") || trimmed.hasPrefix("00") {
            let international = trimmed.hasPrefix("00") ? String(digits.dropFirst(2)) : digits
            return (8...15).contains(international.count) ? "+" + international : nil
        }
        if let plan = plans[defaultCountry.uppercased()] {
            if digits.count == plan.nationalLength { return "+" + plan.code + digits }
            if !plan.trunk.isEmpty, digits.hasPrefix(plan.trunk), digits.count == plan.trunk.count + plan.nationalLength {
                return "+" + plan.code + digits.dropFirst(plan.trunk.count)
            }
            if digits.hasPrefix(plan.code), digits.count == plan.code.count + plan.nationalLength { return "+" + digits }
        }
        // Long enough to carry its own country code.
        return (11...15).contains(digits.count) ? "+" + digits : nil
    }
}
