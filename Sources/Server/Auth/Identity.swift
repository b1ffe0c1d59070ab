import SwitchboardCore

/// Who is calling, after authentication.
public enum Identity: Sendable, Equatable {
    /// An admin user with a JWT we issued.
    case admin(userID: String, role: AdminRole, tenantID: String?)
    /// A tenant API token.
    case apiToken(tokenID: String, tenantID: String, scope: TokenScope)
    /// A JWT from a configured external issuer, mapped to a tenant by a claim.
    case external(subject: String, tenantIDOrSlug: String)

    public var isSuperAdmin: Bool {
        if case .admin(_, .superAdmin, _) = self { return true }
        return false
    }

    /// True when this caller may act on `tenant` at all (scopes are checked separately).
    public func belongs(to tenant: Tenant) -> Bool {
        switch self {
        case .admin(_, .superAdmin, _): true
        case .admin(_, .tenantAdmin, let tenantID): tenantID == tenant.id
        case .apiToken(_, let tenantID, _): tenantID == tenant.id
        case .external(_, let claim): claim == tenant.id || claim == tenant.slug
        }
    }

    /// True when this caller may perform a request that needs `scope`.
    public func allows(_ scope: TokenScope) -> Bool {
        if case .apiToken(_, _, let granted) = self { return granted.allows(scope) }
        return true
    }

    /// True for people signed in as admins (super or tenant), who may manage tokens and users.
    public var isAdminUser: Bool {
        if case .admin = self { return true }
        return false
    }

    /// A short label for logs: never contains a credential.
    public var logLabel: String {
        switch self {
        case .admin(let id, let role, _): "\(role.rawValue):\(id)"
        case .apiToken(let id, _, let scope): "token:\(id):\(scope.rawValue)"
        case .external(let subject, _): "external:\(subject)"
        }
    }
}
