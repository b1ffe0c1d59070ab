import Crypto
import Foundation

/// Identifier and token helpers shared by every module.
public enum Identifiers {
    /// A new random identifier (lower-case UUID), the primary key of control rows.
    public static func newID() -> String { UUID().uuidString.lowercased() }

    /// A URL-safe random token with a readable prefix, e.g. `sbt_…` for tenant API tokens.
    public static func randomToken(prefix: String, bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(raw)
    }

    /// Hex SHA-256, used to store tokens so a database leak does not leak credentials.
    public static func sha256Hex(_ value: String) -> String {
        SHA256.hash(data: Data(value.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Lower-case hex HMAC-SHA256 of `value` with `key`: how webhooks and callbacks are signed.
    public static func hmacSHA256Hex(_ value: String, key: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: SymmetricKey(data: Data(key.utf8))).map { String(format: "%02x", $0) }.joined()
    }

    /// Base64url without padding (RFC 4648 §5).
    public static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Compares two strings in time independent of where they first differ.
    public static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8), right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}

extension Date {
    /// Now, at the millisecond precision both databases keep exactly, so a stored row reads back equal.
    public static var storageNow: Date { Date().roundedToMilliseconds }

    /// This time rounded to whole milliseconds.
    public var roundedToMilliseconds: Date {
        Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

extension Duration {
    /// The duration in whole milliseconds, for logs and stored timings.
    public var wholeMilliseconds: Int {
        Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }

    /// The duration in whole microseconds, for benchmark figures.
    public var wholeMicroseconds: Int64 {
        components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000
    }

    /// The duration in fractional seconds, for date arithmetic.
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

extension Array {
    /// The array in consecutive pieces of at most `size` (multi-row statements stay under bind limits).
    public func chunked(into size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
