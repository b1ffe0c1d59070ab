import Foundation
import SwitchboardCore

/// A published request limit: `rate` requests a second on average, `burst` at once.
public struct RateLimit: Sendable, Equatable {
    public var rate: Double
    public var burst: Double

    public init(rate: Double, burst: Double) {
        self.rate = max(rate, 0.001)
        self.burst = max(burst, 1)
    }

    /// Bitrix24: leaky bucket, 2 requests/s with a burst of 50 (docs/crm-apis.md §1).
    public static let bitrix24 = RateLimit(rate: 2, burst: 50)
    /// amoCRM / Kommo: at most 7 requests in any second per account. A bucket lets `burst + rate` through
    /// in one second, so 1 + 6 stays within 7 wherever the CRM's second starts.
    public static let amocrm = RateLimit(rate: 6, burst: 1)
    /// RetailCRM: 10 requests/s per account for the general API.
    public static let retailcrm = RateLimit(rate: 10, burst: 10)
    /// RetailCRM telephony methods: 40 requests/s.
    public static let retailcrmTelephony = RateLimit(rate: 40, burst: 40)
}

/// A token bucket: starts full, refills at `rate`, holds at most `burst`.
public struct TokenBucket: Sendable, Equatable {
    public let limit: RateLimit
    public private(set) var tokens: Double
    private var refilledAt: Double

    public init(limit: RateLimit, now: Double) {
        self.limit = limit
        self.tokens = limit.burst
        self.refilledAt = now
    }

    /// Takes one token. Returns zero when it was there, else how long until it will be: the token is
    /// reserved either way (the caller waits that long and goes), so waiters queue fairly.
    public mutating func reserve(now: Double) -> Double {
        tokens = min(limit.burst, tokens + max(0, now - refilledAt) * limit.rate)
        refilledAt = max(refilledAt, now)
        tokens -= 1
        return tokens >= 0 ? 0 : -tokens / limit.rate
    }
}

/// Token buckets keyed by tenant + CRM account, plus pauses from `Retry-After` / CRM rate errors that
/// hold back that key only. The clock is injectable so tests need no sleeps.
public actor RateLimiter {
    private var buckets: [String: TokenBucket] = [:]
    private var pausedUntil: [String: Double] = [:]
    private let now: @Sendable () -> Double

    /// - Parameter now: monotonic seconds; defaults to the system's continuous clock.
    public init(now: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds) {
        self.now = now
    }

    /// Seconds on a monotonic clock (never jumps with wall-clock changes).
    public static func monotonicSeconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    /// How long the caller must wait before making one request for `key` (a token is reserved).
    public func reserve(_ key: String, limit: RateLimit) -> Duration {
        let current = now()
        var bucket = buckets[key] ?? TokenBucket(limit: limit, now: current)
        if bucket.limit != limit { bucket = TokenBucket(limit: limit, now: current) }
        var wait = bucket.reserve(now: current)
        buckets[key] = bucket
        if let until = pausedUntil[key], until > current { wait = max(wait, until - current) }
        return .nanoseconds(Int64(wait * 1e9))
    }

    /// Waits until a request for `key` is allowed.
    public func acquire(_ key: String, limit: RateLimit) async throws {
        let wait = reserve(key, limit: limit)
        if wait > .zero { try await Task.sleep(for: wait) }
    }

    /// Holds `key` back for `duration` (the CRM said 429 / `QUERY_LIMIT_EXCEEDED` / `Retry-After`).
    public func pause(_ key: String, for duration: Duration) {
        let until = now() + duration.inSeconds
        pausedUntil[key] = max(pausedUntil[key] ?? 0, until)
    }
}
