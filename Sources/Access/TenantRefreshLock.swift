import Foundation
import SQLKit
import Storage

/// One token refresh per tenant and CRM across every process: renewing a rotating refresh token twice at
/// once leaves one process with a dead token (and can lose the install). On PostgreSQL the body runs in a
/// transaction holding an advisory lock, so whoever gets the lock second finds the new token stored; on
/// SQLite there is one process, whose keeper actor already serialises.
enum TenantRefreshLock {
    static func run<R: Sendable>(
        _ name: String, tenantID: String, database: Database, _ body: @escaping @Sendable (any SQLRunner) async throws -> R
    ) async throws -> R {
        switch database.backend {
        case .postgres:
            return try await database.transaction { tx in
                try await tx.run { sql in
                    try await sql.raw("SELECT pg_advisory_xact_lock(hashtextextended(\(bind: name + ":" + tenantID), 0))").run()
                }
                return try await body(tx)
            }
        case .sqlite:
            return try await body(database)
        }
    }
}
