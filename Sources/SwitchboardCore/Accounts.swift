import Foundation

/// What an admin user may do: a super admin manages every tenant; a tenant admin only their own.
public enum AdminRole: String, Sendable, Codable, CaseIterable {
    case superAdmin = "super_admin"
    case tenantAdmin = "tenant_admin"
}

/// A person who signs in to the admin API or UI.
public struct AdminUser: Sendable, Equatable {
    public var id: String
    public var email: String
    public var role: AdminRole
    /// Set for tenant admins; `nil` for super admins.
    public var tenantID: String?
    public var passwordHash: String
    public var createdAt: Date
    public var disabledAt: Date?

    public init(
        id: String, email: String, role: AdminRole, tenantID: String?, passwordHash: String, createdAt: Date,
        disabledAt: Date? = nil
    ) {
        self.id = id
        self.email = email
        self.role = role
        self.tenantID = tenantID
        self.passwordHash = passwordHash
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }

    /// Checks an e-mail address loosely (one `@`, a dot in the domain); it is a login name, not a mailbox test.
    public static func validate(email: String) throws(SwitchboardError) {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), email.count <= 254,
            !email.contains(where: \.isWhitespace)
        else { throw .invalid("email", "email must look like name@example.com") }
    }

    /// Passwords need at least 10 characters; length beats composition rules.
    public static func validate(password: String) throws(SwitchboardError) {
        guard password.count >= 10, password.utf8.count <= 72 else {
            throw .invalid("password", "password must be 10–72 bytes long")
        }
    }
}

/// What a tenant API token may do. `write` includes `read`.
public enum TokenScope: String, Sendable, Codable, CaseIterable {
    case read, write

    public func allows(_ needed: TokenScope) -> Bool { self == .write || needed == .read }
}

/// A tenant API token's stored metadata. The token itself is shown once and stored only as a hash.
public struct APIToken: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var name: String
    /// The first characters of the token, so people can tell tokens apart.
    public var prefix: String
    public var scope: TokenScope
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(
        id: String, tenantID: String, name: String, prefix: String, scope: TokenScope, createdAt: Date,
        expiresAt: Date?, lastUsedAt: Date?, revokedAt: Date?
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.prefix = prefix
        self.scope = scope
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// True when the token can be used at `now`.
    public func isActive(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > now } ?? true)
    }
}

/// One exchange with an external system, kept for the integration log (seed 002: `integration_logs`).
public struct IntegrationLogEntry: Sendable, Equatable {
    public enum Status: String, Sendable, Codable { case success, error }

    public var id: String
    public var tenantID: String
    public var integration: String
    public var eventType: String
    public var status: Status
    public var requestData: String?
    public var responseData: String?
    public var errorMessage: String?
    public var durationMs: Int?
    public var createdAt: Date

    public init(
        id: String, tenantID: String, integration: String, eventType: String, status: Status, requestData: String?,
        responseData: String?, errorMessage: String?, durationMs: Int?, createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.integration = integration
        self.eventType = eventType
        self.status = status
        self.requestData = requestData
        self.responseData = responseData
        self.errorMessage = errorMessage
        self.durationMs = durationMs
        self.createdAt = createdAt
    }

    /// A new entry made now: `ok` picks the status, a failure's message defaults to the response, and
    /// `duration` is how long the exchange took.
    public init(
        tenantID: String, integration: String, event: String, ok: Bool, request: String?, response: String?, error: String? = nil,
        duration: Duration
    ) {
        self.init(
            id: Identifiers.newID(), tenantID: tenantID, integration: integration, eventType: event, status: ok ? .success : .error,
            requestData: request, responseData: response, errorMessage: ok ? nil : (error ?? response),
            durationMs: Int(duration.wholeMilliseconds), createdAt: .storageNow)
    }
}
