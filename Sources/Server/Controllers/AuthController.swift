import Foundation
import Hummingbird
import Storage
import SwitchboardCore

/// `/api/v1/auth/…` (login, who am I) and `/api/v1/users` (super admins manage admin users).
struct AuthController {
    let services: AppServices

    func register(on api: RouterGroup<AppRequestContext>) {
        api.post("auth/login", use: login)
        api.get("auth/me", use: me)
        api.get("users", use: listUsers)
        api.post("users", use: createUser)
        api.post("users/{id}/disable") { request, context in try await setDisabled(request, context, true) }
        api.post("users/{id}/enable") { request, context in try await setDisabled(request, context, false) }
    }

    struct LoginBody: StrictBody {
        var email: String
        var password: String
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password }
    }

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await request.decodeJSON(LoginBody.self, limit: services.settings.maxBodyBytes)
        let user = try await services.stores.users.find(email: body.email)
        // Verify even for unknown users so timing does not reveal which e-mails exist.
        let valid = try await services.passwords.verify(body.password, hash: user?.passwordHash)
        guard valid, let user, user.disabledAt == nil else {
            context.logger.notice("login refused", metadata: ["email_hash": "\(Identifiers.sha256Hex(body.email).prefix(12))"])
            throw SwitchboardError(.unauthorized, code: "invalid_login", message: "wrong e-mail or password")
        }
        let issued = try await services.adminTokens.issue(for: user)
        struct Reply: Encodable {
            var token: String
            var tokenType = "Bearer"
            var expiresAt: Date
            var user: UserView
        }
        return try JSONResponse.make(Reply(token: issued.token, expiresAt: issued.expiresAt, user: UserView(user)))
    }

    @Sendable func me(_ request: Request, context: AppRequestContext) async throws -> Response {
        struct Reply: Encodable {
            var kind: String
            var role: String?
            var userId, tenantId, tokenId, scope, subject: String?
        }
        switch try context.requireIdentity() {
        case .admin(let userID, let role, let tenantID):
            return try JSONResponse.make(Reply(kind: "admin", role: role.rawValue, userId: userID, tenantId: tenantID))
        case .apiToken(let tokenID, let tenantID, let scope):
            return try JSONResponse.make(
                Reply(kind: "api_token", tenantId: tenantID, tokenId: tokenID, scope: scope.rawValue))
        case .external(let subject, let tenant):
            return try JSONResponse.make(Reply(kind: "external", tenantId: tenant, subject: subject))
        }
    }

    @Sendable func listUsers(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireSuperAdmin()
        return try JSONResponse.make(ListView(items: try await services.stores.users.list().map(UserView.init)))
    }

    struct CreateUserBody: StrictBody {
        var email: String
        var password: String
        var role: AdminRole
        var tenant: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case email, password, role, tenant }
    }

    @Sendable func createUser(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireSuperAdmin()
        let body = try await request.decodeJSON(CreateUserBody.self, limit: services.settings.maxBodyBytes)
        try AdminUser.validate(email: body.email)
        try AdminUser.validate(password: body.password)
        var tenantID: String?
        if body.role == .tenantAdmin {
            guard let key = body.tenant else { throw SwitchboardError.invalid("tenant", "a tenant admin needs a tenant") }
            guard let tenant = try await services.stores.tenants.find(key) else {
                throw SwitchboardError.invalid("tenant", "no tenant '\(key)'")
            }
            tenantID = tenant.id
        }
        let user = try await services.stores.users.create(
            email: body.email, role: body.role, tenantID: tenantID,
            passwordHash: try await services.passwords.hash(body.password))
        return try JSONResponse.make(UserView(user), status: .created)
    }

    private func setDisabled(_ request: Request, _ context: AppRequestContext, _ disabled: Bool) async throws -> Response {
        let caller = try context.requireSuperAdmin()
        let id = try context.parameters.require("id")
        if case .admin(let callerID, _, _) = caller, callerID == id, disabled {
            throw SwitchboardError.conflict("you cannot disable yourself", field: "id")
        }
        try await services.stores.users.setDisabled(id: id, disabled)
        guard let user = try await services.stores.users.find(id: id) else { throw SwitchboardError.notFound("user") }
        return try JSONResponse.make(UserView(user))
    }
}
