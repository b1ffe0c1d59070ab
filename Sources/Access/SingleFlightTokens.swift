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
        if let running = refreshing[tenantID] {
            let joined = try await running.value.token
            // That refresh may have been a re-read that found the very token this caller was refused with.
            if joined != rejected { return joined }
        }
        let task = Task(operation: refresh)
        refreshing[tenantID] = task
        defer { if refreshing[tenantID] == task { refreshing[tenantID] = nil } }
        let fresh = try await task.value
        cached[tenantID] = (fresh.token, fresh.expiresAt)
        if fresh.renewed { refreshCount += 1 }
        return fresh.token
    }

    func store(tenantID: String, token: String, expiresAt: Date) { cached[tenantID] = (token, expiresAt) }
    func forget(tenantID: String) { cached[tenantID] = nil }
}
