import Foundation

/// The external systems a tenant can connect. A new CRM adds a case here and a connector target.
public enum IntegrationKind: String, Sendable, Codable, CaseIterable {
    case bitrix24, amocrm, retailcrm, asterisk
    /// The tenant's own PostgreSQL server, holding its CRM mirror instead of Switchboard's database.
    case postgres

    /// Settings a connection needs before it can be enabled or tested.
    public var requiredSettings: [String] {
        switch self {
        case .bitrix24: ["portal_url"]
        case .amocrm: ["base_url"]
        case .retailcrm: ["base_url"]
        case .asterisk: ["host", "port"]
        case .postgres: []  // `schema` defaults to public
        }
    }

    /// Secret names a connection needs (stored encrypted, never shown in full).
    public var requiredSecrets: [String] {
        switch self {
        case .bitrix24: []  // an incoming-webhook URL carries its key; OAuth apps store tokens later
        case .amocrm: []  // OAuth tokens arrive through the install flow
        case .retailcrm: ["api_key"]
        case .asterisk: ["username", "secret"]
        case .postgres: ["url"]  // postgres://user:password@host:5432/database — the password makes it a secret
        }
    }

    /// The setting that holds the HTTP base address, when the integration is reached over HTTP.
    public var baseURLSetting: String? {
        switch self {
        case .bitrix24: "portal_url"
        case .amocrm, .retailcrm: "base_url"
        case .asterisk, .postgres: nil
        }
    }
}

/// One tenant's connection to one external system. Secrets are plaintext only in memory.
public struct Integration: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var kind: IntegrationKind
    public var enabled: Bool
    public var settings: [String: JSONValue]
    public var secrets: [String: String]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenantID: String, kind: IntegrationKind, enabled: Bool, settings: [String: JSONValue],
        secrets: [String: String], createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.kind = kind
        self.enabled = enabled
        self.settings = settings
        self.secrets = secrets
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// What is missing before this integration can work, as field paths (`settings.host`, `secrets.api_key`).
    public var missingFields: [String] {
        kind.requiredSettings.filter { settings[$0] == nil || settings[$0] == .null || settings[$0] == .string("") }
            .map { "settings.\($0)" }
            + kind.requiredSecrets.filter { (secrets[$0] ?? "").isEmpty }.map { "secrets.\($0)" }
    }

    /// Secrets replaced by their masks, safe for any output.
    public var maskedSecrets: [String: String] { secrets.mapValues(SecretMask.mask) }
}
