import Foundation
import Hummingbird
import Storage
import SwitchboardCore

/// `/api/v1/tenants` (list/create) and `/api/v1/tenants/{tenant}` (show/update/delete, PBX token).
struct TenantController {
    let services: AppServices

    func register(api: RouterGroup<AppRequestContext>, tenant: RouterGroup<AppRequestContext>) {
        api.get("tenants", use: list)
        api.post("tenants", use: create)
        tenant.get("", use: show)
        tenant.patch("", use: update)
        tenant.delete("", use: delete)
        tenant.get("pbx-token", use: revealPBXToken)
        tenant.post("pbx-token/rotate", use: rotatePBXToken)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let visible = try await services.stores.tenants.list().filter(identity.belongs(to:))
        return try JSONResponse.make(ListView(items: visible.map(TenantView.init)))
    }

    struct CreateBody: StrictBody {
        var slug: String
        var name: String
        var defaultCountry: String?
        var timeZone: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case slug, name, defaultCountry = "default_country", timeZone = "time_zone"
        }
    }

    /// Creates a tenant with its PBX token and a first write-scoped API token, both shown only here.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireSuperAdmin()
        let body = try await request.decodeJSON(CreateBody.self, limit: services.settings.maxBodyBytes)
        let created = try await TenantProvisioning.create(
            database: services.database, secrets: services.secrets, slug: body.slug, name: body.name,
            defaultCountry: body.defaultCountry ?? "RU", timeZone: body.timeZone ?? "Europe/Moscow")
        struct Reply: Encodable {
            var tenant: TenantView
            var pbxToken: String
            var apiToken: TokenView
        }
        context.logger.info("tenant created", metadata: ["tenant": "\(created.tenant.slug)"])
        return try JSONResponse.make(
            Reply(
                tenant: TenantView(created.tenant), pbxToken: created.pbxToken,
                apiToken: TokenView(created.apiToken, plaintext: created.apiTokenPlaintext)),
            status: .created)
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try JSONResponse.make(TenantView(try context.requireTenant()))
    }

    struct UpdateBody: StrictBody {
        var name: String?
        var defaultCountry: String?
        var timeZone: String?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, defaultCountry = "default_country", timeZone = "time_zone"
        }
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard try context.requireIdentity().isAdminUser else {
            throw SwitchboardError.forbidden("tenant settings are changed by admin users")
        }
        let body = try await request.decodeJSON(UpdateBody.self, limit: services.settings.maxBodyBytes)
        let updated = try await services.stores.tenants.update(
            id: tenant.id, name: body.name, defaultCountry: body.defaultCountry, timeZone: body.timeZone)
        await services.configChanged(tenantID: tenant.id)
        return try JSONResponse.make(TenantView(updated))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireSuperAdmin()
        let tenant = try context.requireTenant()
        try await services.stores.tenants.softDelete(id: tenant.id)
        await services.configChanged(tenantID: tenant.id)
        return Response(status: .noContent)
    }

    @Sendable func revealPBXToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard try context.requireIdentity().isAdminUser else {
            throw SwitchboardError.forbidden("only admin users may reveal the PBX token")
        }
        context.logger.notice("pbx token revealed")
        return try JSONResponse.make(["pbx_token": try await services.stores.tenants.pbxToken(id: tenant.id)])
    }

    @Sendable func rotatePBXToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard try context.requireIdentity().isAdminUser else {
            throw SwitchboardError.forbidden("only admin users may rotate the PBX token")
        }
        let token = try await services.stores.tenants.rotatePBXToken(id: tenant.id)
        await services.configChanged(tenantID: tenant.id)
        context.logger.notice("pbx token rotated")
        return try JSONResponse.make(["pbx_token": token])
    }
}
