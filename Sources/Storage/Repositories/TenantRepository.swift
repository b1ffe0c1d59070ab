import Foundation
import SQLKit
import SwitchboardCore

/// Tenants: create, find by id or slug or PBX token, update, rotate the PBX token, soft delete.
public struct TenantRepository: Sendable {
    let runner: any SQLRunner
    let secrets: SecretBox

    public init(_ runner: any SQLRunner, secrets: SecretBox) {
        self.runner = runner
        self.secrets = secrets
    }

    private static let columns = "id, slug, name, default_country, time_zone, created_at, updated_at"

    /// Creates a tenant and returns it with its new PBX token (the only time the full token is returned
    /// apart from an explicit reveal).
    public func create(slug: String, name: String, defaultCountry: String = "RU", timeZone: String = "Europe/Moscow")
        async throws -> (tenant: Tenant, pbxToken: String)
    {
        try Tenant.validate(slug: slug)
        try Tenant.validate(name: name)
        try Tenant.validate(country: defaultCountry)
        try Tenant.validate(timeZone: timeZone)
        let now = Date.storageNow
        let tenant = Tenant(
            id: Identifiers.newID(), slug: slug, name: name.trimmingCharacters(in: .whitespacesAndNewlines),
            defaultCountry: defaultCountry, timeZone: timeZone, createdAt: now, updatedAt: now)
        let token = Identifiers.randomToken(prefix: "pbx_", bytes: 24)
        let sealed = try secrets.seal(token, context: "pbx:\(tenant.id)")
        try await mapUniqueViolation(field: "slug", message: "a tenant with slug '\(slug)' already exists") {
            try await runner.run { sql in
                try await sql.raw(
                    """
                    INSERT INTO tenants (id, slug, name, default_country, time_zone, pbx_token_hash, pbx_token_enc,
                        created_at, updated_at)
                    VALUES (\(bind: tenant.id), \(bind: tenant.slug), \(bind: tenant.name), \(bind: defaultCountry),
                        \(bind: timeZone), \(bind: Identifiers.sha256Hex(token)), \(bind: sealed), \(bind: now), \(bind: now))
                    """
                ).run()
            }
        }
        try await ConfigChanges.announce(on: runner)
        return (tenant, token)
    }

    /// Finds a live tenant by id or slug — the `{tenant}` of every tenant-scoped path.
    public func find(_ idOrSlug: String) async throws -> Tenant? {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM tenants
                WHERE (id = \(bind: idOrSlug) OR slug = \(bind: idOrSlug)) AND deleted_at IS NULL
                """
            ).first().map(Self.decode)
        }
    }

    /// The live tenant with this id or slug, or a "not found" error naming it.
    public func require(_ idOrSlug: String) async throws -> Tenant {
        guard let tenant = try await find(idOrSlug) else {
            throw SwitchboardError.notFound("tenant '\(idOrSlug)'", field: "tenant")
        }
        return tenant
    }

    /// Finds the live tenant whose PBX token this is.
    public func find(pbxToken: String) async throws -> Tenant? {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM tenants
                WHERE pbx_token_hash = \(bind: Identifiers.sha256Hex(pbxToken)) AND deleted_at IS NULL
                """
            ).first().map(Self.decode)
        }
    }

    /// Live tenants ordered by slug.
    public func list() async throws -> [Tenant] {
        try await runner.run { sql in
            try await sql.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM tenants WHERE deleted_at IS NULL ORDER BY slug"
            ).all().map(Self.decode)
        }
    }

    /// Changes the given fields and returns the updated tenant.
    public func update(id: String, name: String?, defaultCountry: String?, timeZone: String?) async throws -> Tenant {
        guard var tenant = try await find(id) else { throw SwitchboardError.notFound("tenant") }
        if let name {
            try Tenant.validate(name: name)
            tenant.name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let defaultCountry {
            try Tenant.validate(country: defaultCountry)
            tenant.defaultCountry = defaultCountry
        }
        if let timeZone {
            try Tenant.validate(timeZone: timeZone)
            tenant.timeZone = timeZone
        }
        tenant.updatedAt = Date.storageNow
        let updated = tenant
        try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE tenants SET name = \(bind: updated.name), default_country = \(bind: updated.defaultCountry),
                    time_zone = \(bind: updated.timeZone), updated_at = \(bind: updated.updatedAt)
                WHERE id = \(bind: updated.id)
                """
            ).run()
        }
        try await ConfigChanges.announce(on: runner)  // the tenant's country and time zone shape every call
        return updated
    }

    /// Replaces the PBX token; the old one stops working at once.
    public func rotatePBXToken(id: String) async throws -> String {
        let token = Identifiers.randomToken(prefix: "pbx_", bytes: 24)
        let sealed = try secrets.seal(token, context: "pbx:\(id)")
        let changed = try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE tenants SET pbx_token_hash = \(bind: Identifiers.sha256Hex(token)),
                    pbx_token_enc = \(bind: sealed), updated_at = \(bind: Date.storageNow)
                WHERE id = \(bind: id) AND deleted_at IS NULL RETURNING id
                """
            ).first()
        }
        guard changed != nil else { throw SwitchboardError.notFound("tenant") }
        try await ConfigChanges.announce(on: runner)
        return token
    }

    /// The current PBX token in full, for an explicit reveal.
    public func pbxToken(id: String) async throws -> String {
        let sealed = try await runner.run { sql in
            try await sql.raw("SELECT pbx_token_enc FROM tenants WHERE id = \(bind: id) AND deleted_at IS NULL")
                .first()?.decode(column: "pbx_token_enc", as: String.self)
        }
        guard let sealed else { throw SwitchboardError.notFound("tenant") }
        return try secrets.open(sealed, context: "pbx:\(id)")
    }

    /// Marks the tenant deleted. Its rows stay (nothing is lost); its tokens stop working.
    public func softDelete(id: String) async throws {
        let changed = try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE tenants SET deleted_at = \(bind: Date.storageNow) WHERE id = \(bind: id) AND deleted_at IS NULL RETURNING id
                """
            ).first()
        }
        guard changed != nil else { throw SwitchboardError.notFound("tenant") }
        try await ConfigChanges.announce(on: runner)
    }

    static func decode(_ row: any SQLRow) throws -> Tenant {
        Tenant(
            id: try row.decode(column: "id", as: String.self),
            slug: try row.decode(column: "slug", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            defaultCountry: try row.decode(column: "default_country", as: String.self),
            timeZone: try row.decode(column: "time_zone", as: String.self),
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}
