import SwitchboardCore

/// A tenant's own PostgreSQL server as the home of its CRM mirror (seed 001: "Bitrix24 → our PostgreSQL"),
/// read from its `postgres` integration: the secret `url` and the setting `schema` (default `public`).
public struct ExternalMirror: Sendable, Equatable {
    public var url: PostgresURL
    public var schema: String

    /// Validates the integration's address and schema; errors name the field (`secrets.url`, `settings.schema`).
    public init(_ integration: Integration) throws(SwitchboardError) {
        guard let raw = integration.secrets["url"], !raw.isEmpty else {
            throw .invalid("secrets.url", "the PostgreSQL address is required: postgres://user:password@host:5432/database", code: "missing_field")
        }
        let url: PostgresURL
        do {
            url = try PostgresURL(parsing: raw)
        } catch {
            throw .invalid("secrets.url", error.message)
        }
        // A tenant's address must not reach this server's own sockets: only TCP.
        guard url.socketDirectory == nil else {
            throw .invalid("secrets.url", "a Unix socket is not allowed for a tenant's database; give a host and port")
        }
        let schema = integration.settings["schema"]?.stringValue ?? "public"
        guard Self.isSchemaName(schema) else {
            throw .invalid("settings.schema", "schema must be 1–63 lowercase letters, digits or _, starting with a letter")
        }
        self.url = url
        self.schema = schema
    }

    /// A plain identifier in lower case that starts with a letter (needs no quoting anywhere).
    static func isSchemaName(_ name: String) -> Bool {
        guard let first = name.utf8.first, (0x61...0x7A).contains(first) else { return false }
        return Transaction.isPlainIdentifier(name) && !name.utf8.contains { (0x41...0x5A).contains($0) }
    }

    /// Names this mirror without credentials, so sync checkpoints can tell which mirror they belong to.
    public var identity: String { "postgres://\(url.host):\(url.port)/\(url.database)#\(schema)" }
}
