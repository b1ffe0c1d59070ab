import Foundation
import SQLKit
import SwitchboardCore

/// Admin users. Passwords arrive already hashed; this repository never sees plaintext.
public struct AdminUserRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) { self.runner = runner }

    public func create(email: String, role: AdminRole, tenantID: String?, passwordHash: String) async throws
        -> AdminUser
    {
        try AdminUser.validate(email: email)
        if role == .tenantAdmin, tenantID == nil {
            throw SwitchboardError.invalid("tenant", "a tenant admin needs a tenant")
        }
        let user = AdminUser(
            id: Identifiers.newID(), email: email.lowercased(), role: role, tenantID: role == .superAdmin ? nil : tenantID,
            passwordHash: passwordHash, createdAt: Date.storageNow)
        try await mapUniqueViolation(field: "email", message: "a user with email '\(user.email)' already exists") {
            try await runner.run { sql in
                try await sql.raw(
                    """
                    INSERT INTO admin_users (id, email, role, tenant_id, password_hash, created_at)
                    VALUES (\(bind: user.id), \(bind: user.email), \(bind: user.role.rawValue), \(bind: user.tenantID),
                        \(bind: user.passwordHash), \(bind: user.createdAt))
                    """
                ).run()
            }
        }
        return user
    }

    public func find(email: String) async throws -> AdminUser? {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM admin_users WHERE email = \(bind: email.lowercased())").first()
        }.map(Self.decode)
    }

    public func find(id: String) async throws -> AdminUser? {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM admin_users WHERE id = \(bind: id)").first()
        }.map(Self.decode)
    }

    public func list() async throws -> [AdminUser] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM admin_users ORDER BY email").all()
        }.map(Self.decode)
    }

    public func count() async throws -> Int {
        try await runner.run { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM admin_users").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    public func setPasswordHash(id: String, hash: String) async throws {
        try await runner.run { sql in
            try await sql.raw("UPDATE admin_users SET password_hash = \(bind: hash) WHERE id = \(bind: id)").run()
        }
    }

    public func setDisabled(id: String, _ disabled: Bool) async throws {
        let changed = try await runner.run { sql in
            try await sql.raw(
                "UPDATE admin_users SET disabled_at = \(bind: disabled ? Date.storageNow : nil) WHERE id = \(bind: id) RETURNING id"
            ).first()
        }
        guard changed != nil else { throw SwitchboardError.notFound("user") }
    }

    static func decode(_ row: any SQLRow) throws -> AdminUser {
        let roleName = try row.decode(column: "role", as: String.self)
        return AdminUser(
            id: try row.decode(column: "id", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            role: AdminRole(rawValue: roleName) ?? .tenantAdmin,
            tenantID: try row.decode(column: "tenant_id", as: String?.self),
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            createdAt: try row.date("created_at"),
            disabledAt: try row.optionalDate("disabled_at"))
    }
}
