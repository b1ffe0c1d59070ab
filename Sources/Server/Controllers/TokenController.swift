import Foundation
import Hummingbird
import Storage
import SwitchboardCore

/// `/api/v1/tenants/{tenant}/tokens`: admin users issue, list and revoke a tenant's API tokens.
struct TokenController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("tokens", use: list)
        tenant.post("tokens", use: issue)
        tenant.delete("tokens/{id}", use: revoke)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdminUser(managing: "API tokens")
        let tokens = try await services.stores.apiTokens.list(tenantID: try context.requireTenant().id)
        return try JSONResponse.make(ListView(items: tokens.map { TokenView($0) }))
    }

    struct IssueBody: StrictBody {
        var name: String
        var scope: TokenScope?
        var expiresAt: Date?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, scope, expiresAt = "expires_at" }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            scope = try container.decodeIfPresent(TokenScope.self, forKey: .scope)
            if let text = try container.decodeIfPresent(String.self, forKey: .expiresAt) {
                guard let date = ISO8601DateFormatter().date(from: text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .expiresAt, in: container, debugDescription: "must be an ISO 8601 time such as 2027-01-31T00:00:00Z")
                }
                expiresAt = date
            }
        }
    }

    @Sendable func issue(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdminUser(managing: "API tokens")
        let body = try await request.decodeJSON(IssueBody.self, limit: services.settings.maxBodyBytes)
        let (token, plaintext) = try await services.stores.apiTokens.issue(
            tenantID: try context.requireTenant().id, name: body.name, scope: body.scope ?? .read, expiresAt: body.expiresAt)
        return try JSONResponse.make(TokenView(token, plaintext: plaintext), status: .created)
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requireAdminUser(managing: "API tokens")
        try await services.stores.apiTokens.revoke(
            tenantID: try context.requireTenant().id, id: try context.parameters.require("id"))
        return Response(status: .noContent)
    }
}
