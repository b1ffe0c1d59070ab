import Foundation
import SQLKit
import SwitchboardCore

/// One token refresh per tenant and CRM across every process: renewing a rotating refresh token twice at
/// once leaves one process with a dead token (and can lose the install). On PostgreSQL the body runs in a
/// transaction holding an advisory lock, so whoever gets the lock second finds the new token stored; on
/// SQLite there is one process, whose keeper already serialises. Every save of such an integration takes the
/// lock too (`IntegrationRepository.save`), so a settings change cannot write back a refresh token that a
/// refresh has just used up.
public enum TenantRefreshLock {
    /// The lock's name for an integration kind whose tokens rotate.
    public static func name(for kind: IntegrationKind) -> String? {
        switch kind {
        case .bitrix24: "bitrix24-oauth"
        case .amocrm: "amocrm-oauth"
        default: nil
        }
    }

    public static func run<R: Sendable>(
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

extension TenantRefreshLock {
    /// Takes the lock in the transaction `runner` is (PostgreSQL; released at its end). Taking it again in the
    /// same transaction is allowed.
    static func take(_ name: String, tenantID: String, on runner: any SQLRunner) async throws {
        guard runner.backend == .postgres else { return }
        try await runner.run { sql in
            try await sql.raw("SELECT pg_advisory_xact_lock(hashtextextended(\(bind: name + ":" + tenantID), 0))").run()
        }
    }
}
