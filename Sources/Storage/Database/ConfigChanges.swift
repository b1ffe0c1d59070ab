import SQLKit

/// Announces that tenant configuration changed (integrations, PBX tokens, tenants), so every instance's
/// caches drop what they hold. On PostgreSQL it is `NOTIFY switchboard_config`, delivered at commit to
/// every listening process; on SQLite there is one process and the caller tells its own caches.
public enum ConfigChanges {
    public static let channel = "switchboard_config"

    /// Repositories call it for their writes; callers for changes no write made (an operator's invalidation).
    public static func announce(on runner: any SQLRunner) async throws {
        guard runner.backend == .postgres else { return }
        try await runner.run { sql in try await sql.raw("SELECT pg_notify(\(bind: channel), '')").run() }
    }
}
