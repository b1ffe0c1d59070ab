import Foundation

/// A circuit breaker per tenant + integration: after `failureThreshold` consecutive failures it opens
/// and refuses calls for `openDuration`, then lets one probe through (half-open); the probe's outcome
/// closes or re-opens it. One tenant's broken CRM thus costs no time for anyone else.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed
        case open(until: Double)
        case halfOpen
    }

    public let failureThreshold: Int
    public let openDuration: Double
    public private(set) var state: State = .closed
    public private(set) var consecutiveFailures = 0
    private var probeInFlight = false

    public init(failureThreshold: Int = 5, openDuration: Double = 30) {
        self.failureThreshold = max(1, failureThreshold)
        self.openDuration = openDuration
    }

    /// Whether a call may go out now. In half-open state only one probe at a time is allowed.
    public mutating func allow(now: Double) -> Bool {
        switch state {
        case .closed:
            return true
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen
            probeInFlight = true
            return true
        case .halfOpen:
            guard !probeInFlight else { return false }
            probeInFlight = true
            return true
        }
    }

    /// Records a call's outcome.
    public mutating func record(success: Bool, now: Double) {
        probeInFlight = false
        if success {
            consecutiveFailures = 0
            state = .closed
            return
        }
        consecutiveFailures += 1
        if state == .halfOpen || consecutiveFailures >= failureThreshold {
            state = .open(until: now + openDuration)
        }
    }

    /// `closed`, `open` or `half_open`, for the API and `/stats`.
    public var stateName: String {
        switch state {
        case .closed: "closed"
        case .open: "open"
        case .halfOpen: "half_open"
        }
    }
}

/// The breakers of this process, keyed by tenant + integration.
public actor CircuitBreakers {
    private var breakers: [String: CircuitBreaker] = [:]
    private let now: @Sendable () -> Double
    private let make: @Sendable () -> CircuitBreaker

    public init(
        now: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds,
        make: @escaping @Sendable () -> CircuitBreaker = { CircuitBreaker() }
    ) {
        self.now = now
        self.make = make
    }

    public func allow(_ key: String) -> Bool {
        var breaker = breakers[key] ?? make()
        let allowed = breaker.allow(now: now())
        breakers[key] = breaker
        return allowed
    }

    public func record(_ key: String, success: Bool) {
        var breaker = breakers[key] ?? make()
        breaker.record(success: success, now: now())
        breakers[key] = breaker
    }

    /// The key of a tenant's integration (`<tenant id>:<kind>`), used by connectors and the API alike.
    public static func key(tenantID: String, integration: String) -> String { "\(tenantID):\(integration)" }

    /// The state name of one breaker; one that never saw a call is `closed`.
    public func stateName(_ key: String) -> String { breakers[key]?.stateName ?? "closed" }

    /// Every breaker's state name, for `/stats`.
    public func snapshot() -> [String: String] { breakers.mapValues(\.stateName) }
}
