import Foundation
import SQLKit
import SwitchboardCore

/// A tenant's integrations. Secrets are sealed with the tenant and kind as context before they are stored.
public struct IntegrationRepository: Sendable {
    let runner: any SQLRunner
    let secrets: SecretBox
    private static let encoder = JSONEncoder()
    private static let decoder = JSONDecoder()

    public init(_ runner: any SQLRunner, secrets: SecretBox) {
        self.runner = runner
        self.secrets = secrets
    }

    /// A change to apply: `nil` leaves a part as it is. In `secrets`, a `nil` value removes that secret.
    public struct Change: Sendable {
        public var enabled: Bool?
        public var settings: [String: JSONValue]?
        public var secrets: [String: String?]?
        /// Settings set on top of the stored ones, read in the same locked step (`null` removes a key):
        /// for a change of a few keys that must not undo a concurrent change of others.
        public var mergingSettings: [String: JSONValue]?

        public init(
            enabled: Bool? = nil, settings: [String: JSONValue]? = nil, secrets: [String: String?]? = nil, mergingSettings: [String: JSONValue]? = nil
        ) {
            self.enabled = enabled
            self.settings = settings
            self.secrets = secrets
            self.mergingSettings = mergingSettings
        }
    }

    /// Creates or changes the tenant's integration of `kind`. Enabling checks that nothing required is missing.
    public func save(tenantID: String, kind: IntegrationKind, change: Change) async throws -> Integration {
        // Integrations with rotating OAuth tokens: read and written under the tenant's refresh lock, so a
        // concurrent refresh is not undone by writing back the secrets read before it.
        if let lock = TenantRefreshLock.name(for: kind), runner.backend == .postgres {
            if let database = runner as? Database {
                return try await database.transaction { tx in
                    try await TenantRefreshLock.take(lock, tenantID: tenantID, on: tx)
                    return try await IntegrationRepository(tx, secrets: secrets).saveHeld(tenantID: tenantID, kind: kind, change: change)
                }
            }
            try await TenantRefreshLock.take(lock, tenantID: tenantID, on: runner)
        }
        return try await saveHeld(tenantID: tenantID, kind: kind, change: change)
    }

    private func saveHeld(tenantID: String, kind: IntegrationKind, change: Change) async throws -> Integration {
        let now = Date.storageNow
        let integration =
            try await find(tenantID: tenantID, kind: kind)
            ?? Integration(
                id: Identifiers.newID(), tenantID: tenantID, kind: kind, enabled: false, settings: [:], secrets: [:],
                createdAt: now, updatedAt: now)
        return try await apply(change, to: integration)
    }

    /// Enables or disables an existing integration; "not found" when the tenant has none of `kind`.
    public func setEnabled(tenantID: String, kind: IntegrationKind, _ enabled: Bool) async throws -> Integration {
        guard try await find(tenantID: tenantID, kind: kind) != nil else {
            throw SwitchboardError.notFound("\(kind.rawValue) integration")
        }
        return try await save(tenantID: tenantID, kind: kind, change: .init(enabled: enabled))
    }

    private func apply(_ change: Change, to current: Integration) async throws -> Integration {
        var integration = current
        let (tenantID, kind, now) = (current.tenantID, current.kind, Date.storageNow)
        if let settings = change.settings { integration.settings = settings }
        for (key, value) in change.mergingSettings ?? [:] { integration.settings[key] = value == .null ? nil : value }
        for (name, value) in change.secrets ?? [:] {
            guard !name.isEmpty else { throw SwitchboardError.invalid("secrets", "a secret needs a name") }
            integration.secrets[name] = value
        }
        if let enabled = change.enabled { integration.enabled = enabled }
        if integration.enabled, let missing = integration.missingFields.first {
            throw SwitchboardError.invalid(
                missing, "\(kind.rawValue) cannot be enabled while \(missing) is missing", code: "missing_field")
        }
        // A mirror address is checked when given, not first when a sync fails.
        if kind == .postgres, integration.enabled || integration.secrets["url"] != nil || integration.settings["schema"] != nil {
            _ = try ExternalMirror(integration)
        }
        integration.updatedAt = now
        let settingsJSON = String(decoding: try Self.encoder.encode(integration.settings), as: UTF8.self)
        let sealed =
            integration.secrets.isEmpty
            ? nil
            : try secrets.seal(
                String(decoding: try Self.encoder.encode(integration.secrets), as: UTF8.self),
                context: Self.context(tenantID: tenantID, kind: kind))
        let saved = integration
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO integrations (id, tenant_id, kind, enabled, settings, secrets_enc, created_at, updated_at)
                VALUES (\(bind: saved.id), \(bind: tenantID), \(bind: kind.rawValue), \(bind: saved.enabled),
                    \(bind: settingsJSON), \(bind: sealed), \(bind: saved.createdAt), \(bind: saved.updatedAt))
                ON CONFLICT (tenant_id, kind) DO UPDATE SET enabled = excluded.enabled, settings = excluded.settings,
                    secrets_enc = excluded.secrets_enc, updated_at = excluded.updated_at
                """
            ).run()
        }
        try await ConfigChanges.announce(on: runner)
        return saved
    }

    /// The tenant's integration of `kind`, secrets decrypted.
    public func find(tenantID: String, kind: IntegrationKind) async throws -> Integration? {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT * FROM integrations WHERE tenant_id = \(bind: tenantID) AND kind = \(bind: kind.rawValue)
                """
            ).first()
        }.map(decode)
    }

    /// Every live tenant's enabled integration of `kind`, secrets decrypted (e.g. the PBXs to connect to).
    public func enabled(kind: IntegrationKind) async throws -> [Integration] {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT i.* FROM integrations i JOIN tenants t ON t.id = i.tenant_id
                WHERE i.kind = \(bind: kind.rawValue) AND i.enabled = \(bind: true) AND t.deleted_at IS NULL ORDER BY i.tenant_id
                """
            ).all()
        }.map(decode)
    }

    /// The settings of the tenant's enabled integrations by kind — no secrets opened: cheap enough for
    /// every PBX event.
    public func enabledSettings(tenantID: String) async throws -> [IntegrationKind: [String: JSONValue]] {
        let rows = try await runner.run { sql in
            try await sql.raw("SELECT kind, settings FROM integrations WHERE tenant_id = \(bind: tenantID) AND enabled = \(bind: true)").all()
        }
        var found: [IntegrationKind: [String: JSONValue]] = [:]
        for row in rows {
            guard let kind = IntegrationKind(rawValue: try row.decode(column: "kind", as: String.self)) else { continue }
            found[kind] = try Self.settings(row)
        }
        return found
    }

    /// Every live tenant's enabled integration of `kind` as tenant id and settings — no secrets opened
    /// (the scheduler asks on every tick).
    public func enabledSettings(kind: IntegrationKind) async throws -> [(tenantID: String, settings: [String: JSONValue])] {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT i.tenant_id, i.settings FROM integrations i JOIN tenants t ON t.id = i.tenant_id
                WHERE i.kind = \(bind: kind.rawValue) AND i.enabled = \(bind: true) AND t.deleted_at IS NULL ORDER BY i.tenant_id
                """
            ).all()
        }.map { (try $0.decode(column: "tenant_id", as: String.self), try Self.settings($0)) }
    }

    static func settings(_ row: any SQLRow) throws -> [String: JSONValue] {
        try decoder.decode([String: JSONValue].self, from: Data(try row.decode(column: "settings", as: String.self).utf8))
    }

    /// All of the tenant's integrations, secrets decrypted.
    public func list(tenantID: String) async throws -> [Integration] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM integrations WHERE tenant_id = \(bind: tenantID) ORDER BY kind").all()
        }.map(decode)
    }

    /// Removes the integration and its secrets.
    public func delete(tenantID: String, kind: IntegrationKind) async throws {
        let removed = try await runner.run { sql in
            try await sql.raw(
                """
                DELETE FROM integrations WHERE tenant_id = \(bind: tenantID) AND kind = \(bind: kind.rawValue) RETURNING id
                """
            ).first()
        }
        guard removed != nil else { throw SwitchboardError.notFound("\(kind.rawValue) integration") }
        try await ConfigChanges.announce(on: runner)
    }

    private static func context(tenantID: String, kind: IntegrationKind) -> String {
        "integration:\(tenantID):\(kind.rawValue)"
    }

    private func decode(_ row: any SQLRow) throws -> Integration {
        let tenantID = try row.decode(column: "tenant_id", as: String.self)
        let kindName = try row.decode(column: "kind", as: String.self)
        guard let kind = IntegrationKind(rawValue: kindName) else {
            throw SwitchboardError(.internal, code: "unknown_integration", message: "stored kind '\(kindName)'")
        }
        let sealed = try row.decode(column: "secrets_enc", as: String?.self)
        let secretsJSON = try sealed.map { try secrets.open($0, context: Self.context(tenantID: tenantID, kind: kind)) }
        return Integration(
            id: try row.decode(column: "id", as: String.self), tenantID: tenantID, kind: kind,
            enabled: try row.decode(column: "enabled", as: Bool.self),
            settings: try Self.settings(row),
            secrets: try secretsJSON.map { try Self.decoder.decode([String: String].self, from: Data($0.utf8)) } ?? [:],
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}
