import Foundation

/// The in-process half of a token keeper: each tenant's current access token cached with its expiry, and
/// at most one refresh per tenant running — callers that find the token stale while a refresh runs wait
/// for it instead of starting their own (a rotating refresh token works once).
actor SingleFlightTokens {
    /// A fresh token, its expiry, and whether a refresh really happened (not just a re-read).
    typealias Refreshed = (token: String, expiresAt: Date, renewed: Bool)

    private let renewalMargin: TimeInterval
    private var cached: [String: (token: String, expiresAt: Date)] = [:]
    private var refreshing: [String: Task<Refreshed, any Error>] = [:]
    /// Refreshes done by this process.
    private(set) var refreshCount = 0

    init(renewalMargin: TimeInterval) {
        self.renewalMargin = renewalMargin
    }

    /// The cached token if it has the margin left and is not `rejected`; else the result of `refresh`,
    /// shared with every caller that asks meanwhile.
    func token(
        tenantID: String, rejecting rejected: String?, refresh: @escaping @Sendable () async throws -> Refreshed
    ) async throws -> String {
        if let entry = cached[tenantID], entry.token != rejected, entry.expiresAt.timeIntervalSinceNow > renewalMargin { return entry.token }
        if let running = refreshing[tenantID] { return try await running.value.token }
        let task = Task(operation: refresh)
        refreshing[tenantID] = task
        defer { refreshing[tenantID] = nil }
        let fresh = try await task.value
        cached[tenantID] = (fresh.token, fresh.expiresAt)
        if fresh.renewed { refreshCount += 1 }
        return fresh.token
    }

    func store(tenantID: String, token: String, expiresAt: Date) { cached[tenantID] = (token, expiresAt) }
    func forget(tenantID: String) { cached[tenantID] = nil }
}
