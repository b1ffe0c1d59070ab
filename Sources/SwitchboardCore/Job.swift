import Foundation

/// Where a job is in its life.
public enum JobState: String, Sendable, Codable, CaseIterable {
    /// Ready to run now.
    case available
    /// Waiting for its `runAt`.
    case scheduled
    /// Claimed by a worker holding a lease.
    case running
    /// Failed, will run again at `runAt`.
    case retryable
    case succeeded
    /// Out of attempts or failed permanently; kept for inspection and manual retry.
    case dead
    case cancelled

    /// States in which a job still holds its unique key.
    public static let live: [JobState] = [.available, .scheduled, .running, .retryable]
}

/// One unit of slow or external work, stored durably.
public struct Job: Sendable, Equatable {
    public var id: String
    public var tenantID: String?
    public var kind: String
    public var payload: JSONValue
    public var priority: Int
    public var state: JobState
    public var runAt: Date
    public var attempt: Int
    public var maxAttempts: Int
    public var uniqueKey: String?
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var lastError: String?
    public var result: JSONValue?
    public var createdAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?

    public init(
        id: String, tenantID: String?, kind: String, payload: JSONValue, priority: Int, state: JobState, runAt: Date,
        attempt: Int, maxAttempts: Int, uniqueKey: String?, leaseOwner: String?, leaseExpiresAt: Date?,
        lastError: String?, result: JSONValue?, createdAt: Date, updatedAt: Date, finishedAt: Date?
    ) {
        self.id = id
        self.tenantID = tenantID
        self.kind = kind
        self.payload = payload
        self.priority = priority
        self.state = state
        self.runAt = runAt
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.uniqueKey = uniqueKey
        self.leaseOwner = leaseOwner
        self.leaseExpiresAt = leaseExpiresAt
        self.lastError = lastError
        self.result = result
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.finishedAt = finishedAt
    }
}

/// How a job failed: worth another attempt, or never going to work.
public enum JobFailure: Error, Sendable, Equatable {
    /// Timeouts, 5xx, 429, CRM "limit exceeded": try again, no sooner than `retryAfter` when given.
    case retryable(String, retryAfter: Duration? = nil)
    /// Validation errors and the like: fail at once with the CRM's message.
    case permanent(String)
    /// Not a failure: the job waits for something else (another job holding the same record) and runs
    /// again after `until`, without using up an attempt.
    case deferred(String, until: Duration)

    public var message: String {
        switch self {
        case .retryable(let message, _), .permanent(let message), .deferred(let message, _): message
        }
    }

    /// Classifies a CRM's HTTP answer: 408, 425, 429 and 5xx are worth retrying (after `retryAfter`
    /// when the CRM sent one), as is any answer whose message says a rate limit was hit (Bitrix24's
    /// `QUERY_LIMIT_EXCEEDED` comes with 503, RetailCRM's "limit exceeded" with 503); other 4xx are
    /// the request's fault and fail at once with the CRM's message.
    public static func http(status: Int, message: String, retryAfter: Duration? = nil) -> JobFailure {
        let text = "HTTP \(status): \(message)"
        let lowered = message.lowercased()
        let rateLimited = lowered.contains("limit exceeded") || lowered.contains("query_limit_exceeded") || lowered.contains("too many requests")
        if status == 408 || status == 425 || status == 429 || status >= 500 || rateLimited {
            return .retryable(text, retryAfter: retryAfter)
        }
        return .permanent(text)
    }

    /// Seconds from a `Retry-After` header (delta-seconds form; an HTTP date is read as "unknown").
    public static func retryAfter(header: String?) -> Duration? {
        guard let header, let seconds = Int(header.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return .seconds(min(seconds, 3600))
    }
}

/// When to retry a kind of job.
public struct RetryPolicy: Sendable, Equatable {
    public enum Backoff: Sendable, Equatable {
        /// Fixed delays before attempts 2, 3, … (seed 003: 2 s, 4 s; seed 004: 0, 5 s, 30 s).
        case fixed([Duration])
        /// Exponential with full jitter: a random delay in 0…min(cap, base·2^(attempt−1)).
        case exponential(base: Duration, cap: Duration)
    }

    public var maxAttempts: Int
    public var backoff: Backoff

    public init(maxAttempts: Int, backoff: Backoff) {
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
    }

    public static let standard = RetryPolicy(maxAttempts: 10, backoff: .exponential(base: .seconds(2), cap: .seconds(600)))

    /// The delay before the attempt after `attempt` (1-based). `random` is a number in 0..<1.
    public func delay(after attempt: Int, random: Double) -> Duration {
        switch backoff {
        case .fixed(let delays):
            guard !delays.isEmpty else { return .zero }
            return delays[min(max(attempt - 1, 0), delays.count - 1)]
        case .exponential(let base, let cap):
            let exponent = min(max(attempt - 1, 0), 30)
            let ceiling = min(cap, base * (1 << exponent))
            return ceiling * random
        }
    }
}

/// An error that knows whether retrying can help (a CRM client's errors), so job runners need not.
public protocol JobFailureConvertible: Error {
    var jobFailure: JobFailure { get }
}
