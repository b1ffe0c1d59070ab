import SQLKit

/// Which `serve` instance holds a tenant's AMI connection when several share one PostgreSQL: the one
/// holding the tenant's session-level advisory lock. The lock lives on one pinned connection, so it is
/// released the moment that process dies or loses its database session, and another instance takes
/// the PBX over at its next look (`AMIService.refresh`).
struct PBXLeadership: Sendable {
    let session: any SQLDatabase

    private static func key(_ tenantID: String) -> String { "switchboard:ami:" + tenantID }

    /// True when this session now holds (or already held) the tenant's lock.
    func acquire(_ tenantID: String) async throws -> Bool {
        try await session.raw("SELECT pg_try_advisory_lock(hashtextextended(\(bind: Self.key(tenantID)), 0)) AS held").first()?
            .decode(column: "held", as: Bool.self) ?? false
    }

    func release(_ tenantID: String) async throws {
        try await session.raw("SELECT pg_advisory_unlock(hashtextextended(\(bind: Self.key(tenantID)), 0)) AS released").run()
    }

    /// Gives every PBX up. The session's connection goes back to the pool afterwards, and a lock left on
    /// it would outlive this instance's interest in the PBX. Runs outside the caller's (cancelled) task.
    func releaseAll() async {
        let session = session
        await Task { _ = try? await session.raw("SELECT pg_advisory_unlock_all() AS done").run() }.value
    }

    /// Throws when the session is gone (its locks with it).
    func check() async throws {
        try await session.raw("SELECT 1 AS alive").run()
    }
}
