import Foundation
import SQLKit
import SwitchboardCore

/// Tenant API tokens: random, stored as SHA-256, shown once, revocable, scoped.
public struct APITokenRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) { self.runner = runner }

    /// Issues a token; the returned plaintext is not stored anywhere.
    public func issue(tenantID: String, name: String, scope: TokenScope, expiresAt: Date? = nil) async throws
        -> (token: APIToken, plaintext: String)
    {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.count <= 100 else {
            throw SwitchboardError.invalid("name", "name must be 1–100 characters")
        }
        if let expiresAt, expiresAt <= Date.storageNow {
            throw SwitchboardError.invalid("expires_at", "expires_at must be in the future")
        }
        let plaintext = Identifiers.randomToken(prefix: "sbt_")
        let token = APIToken(
            id: Identifiers.newID(), tenantID: tenantID, name: trimmed, prefix: String(plaintext.prefix(10)),
            scope: scope, createdAt: Date.storageNow, expiresAt: expiresAt, lastUsedAt: nil, revokedAt: nil)
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO api_tokens (id, tenant_id, name, prefix, token_hash, scope, created_at, expires_at)
                VALUES (\(bind: token.id), \(bind: tenantID), \(bind: token.name), \(bind: token.prefix),
                    \(bind: Identifiers.sha256Hex(plaintext)), \(bind: scope.rawValue), \(bind: token.createdAt),
                    \(bind: expiresAt))
                """
            ).run()
        }
        return (token, plaintext)
    }

    /// The active token matching `plaintext` whose tenant is live, or `nil`.
    public func authenticate(_ plaintext: String, now: Date = Date.storageNow) async throws -> APIToken? {
        let found = try await runner.run { sql in
            try await sql.raw(
                """
                SELECT k.* FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id
                WHERE k.token_hash = \(bind: Identifiers.sha256Hex(plaintext)) AND t.deleted_at IS NULL
                """
            ).first()
        }.map(Self.decode)
        guard let found, found.isActive(at: now) else { return nil }
        // Coarse last-used stamp: at most one write a minute per token keeps auth off the write path.
        if found.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            try await runner.run { sql in
                try await sql.raw("UPDATE api_tokens SET last_used_at = \(bind: now) WHERE id = \(bind: found.id)").run()
            }
        }
        return found
    }

    public func list(tenantID: String) async throws -> [APIToken] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM api_tokens WHERE tenant_id = \(bind: tenantID) ORDER BY created_at").all()
        }.map(Self.decode)
    }

    /// Revokes one of the tenant's tokens; a token of another tenant is "not found".
    public func revoke(tenantID: String, id: String) async throws {
        let changed = try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE api_tokens SET revoked_at = \(bind: Date.storageNow)
                WHERE id = \(bind: id) AND tenant_id = \(bind: tenantID) AND revoked_at IS NULL RETURNING id
                """
            ).first()
        }
        guard changed != nil else { throw SwitchboardError.notFound("token") }
    }

    static func decode(_ row: any SQLRow) throws -> APIToken {
        APIToken(
            id: try row.decode(column: "id", as: String.self),
            tenantID: try row.decode(column: "tenant_id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            prefix: try row.decode(column: "prefix", as: String.self),
            scope: TokenScope(rawValue: try row.decode(column: "scope", as: String.self)) ?? .read,
            createdAt: try row.date("created_at"),
            expiresAt: try row.optionalDate("expires_at"),
            lastUsedAt: try row.optionalDate("last_used_at"),
            revokedAt: try row.optionalDate("revoked_at"))
    }
}
