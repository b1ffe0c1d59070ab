import Foundation
import SwitchboardCore

/// Wire shapes of the API. Secrets only ever appear masked, except a token in the one response that creates it.
struct TenantView: Encodable {
    var id, slug, name, defaultCountry, timeZone: String
    var createdAt, updatedAt: Date

    init(_ tenant: Tenant) {
        id = tenant.id
        slug = tenant.slug
        name = tenant.name
        defaultCountry = tenant.defaultCountry
        timeZone = tenant.timeZone
        createdAt = tenant.createdAt
        updatedAt = tenant.updatedAt
    }
}

/// An integration as the API and CLI show it: secrets masked.
public struct IntegrationView: Encodable, Sendable {
    public var kind: String
    public var enabled: Bool
    public var settings: [String: JSONValue]
    /// Secret names with masked values (`ab…yz`).
    public var secrets: [String: String]
    /// What must still be filled in before the integration can be enabled.
    public var missing: [String]
    /// This process's circuit breaker for the integration (`closed`, `open`, `half_open`); API only.
    public var circuit: String?
    public var createdAt, updatedAt: Date

    public init(_ integration: Integration, circuit: String? = nil) {
        kind = integration.kind.rawValue
        enabled = integration.enabled
        settings = integration.settings
        secrets = integration.maskedSecrets
        missing = integration.missingFields
        self.circuit = circuit
        createdAt = integration.createdAt
        updatedAt = integration.updatedAt
    }
}

struct UserView: Encodable {
    var id, email, role: String
    var tenantId: String?
    var createdAt: Date
    var disabled: Bool

    init(_ user: AdminUser) {
        id = user.id
        email = user.email
        role = user.role.rawValue
        tenantId = user.tenantID
        createdAt = user.createdAt
        disabled = user.disabledAt != nil
    }
}

struct TokenView: Encodable {
    var id, name, prefix, scope: String
    var createdAt: Date
    var expiresAt, lastUsedAt, revokedAt: Date?
    /// Present only in the response that issues the token.
    var token: String?

    init(_ token: APIToken, plaintext: String? = nil) {
        id = token.id
        name = token.name
        prefix = token.prefix
        scope = token.scope.rawValue
        createdAt = token.createdAt
        expiresAt = token.expiresAt
        lastUsedAt = token.lastUsedAt
        revokedAt = token.revokedAt
        self.token = plaintext
    }
}

struct LogView: Encodable {
    var id, integration, eventType, status: String
    var requestData, responseData, errorMessage: String?
    var durationMs: Int?
    var createdAt: Date

    init(_ entry: IntegrationLogEntry) {
        id = entry.id
        integration = entry.integration
        eventType = entry.eventType
        status = entry.status.rawValue
        requestData = entry.requestData
        responseData = entry.responseData
        errorMessage = entry.errorMessage
        durationMs = entry.durationMs
        createdAt = entry.createdAt
    }
}

/// A list response: `{"items":[…]}` leaves room for paging fields without breaking clients.
struct ListView<Item: Encodable>: Encodable {
    var items: [Item]
}
