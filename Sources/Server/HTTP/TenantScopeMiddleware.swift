import Hummingbird
import Storage
import SwitchboardCore

/// Guards every route under `/api/v1/tenants/{tenant}`: resolves `{tenant}` (id or slug), and answers
/// 404 — not 403 — when the caller does not belong to it, so tenants cannot probe each other's existence.
/// Read-only tokens may only use safe methods.
struct TenantScopeMiddleware: RouterMiddleware {
    let tenants: TenantRepository

    func handle(
        _ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        let identity = try context.requireIdentity()
        let key = try context.parameters.require("tenant")
        guard let tenant = try await tenants.find(key), identity.belongs(to: tenant) else {
            throw SwitchboardError.notFound("tenant", field: "tenant")
        }
        let needed: TokenScope = [.get, .head, .options].contains(request.method) ? .read : .write
        guard identity.allows(needed) else {
            throw SwitchboardError(.forbidden, code: "insufficient_scope", message: "this token is read-only")
        }
        var context = context
        context.tenant = tenant
        context.observed.tenantSlug = tenant.slug
        context.logger[metadataKey: "tenant"] = .string(tenant.slug)
        return try await next(request, context)
    }
}
