import Foundation
import Hummingbird
import Jobs
import Storage
import SwitchboardCore

/// `/api/v1/tenants/{tenant}/integrations…`: list, show, save, delete, enable, disable, test.
struct IntegrationController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("integrations", use: list)
        tenant.get("integrations/{kind}", use: show)
        tenant.put("integrations/{kind}", use: save)
        tenant.delete("integrations/{kind}", use: delete)
        tenant.post("integrations/{kind}/enable") { request, context in try await toggle(context, enabled: true) }
        tenant.post("integrations/{kind}/disable") { request, context in try await toggle(context, enabled: false) }
        tenant.post("integrations/{kind}/test", use: test)
    }

    private func kind(_ context: AppRequestContext) throws -> IntegrationKind {
        let name = try context.parameters.require("kind")
        guard let kind = IntegrationKind(rawValue: name) else {
            throw SwitchboardError.invalid(
                "kind", "unknown integration '\(name)'; one of \(IntegrationKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let items = try await services.stores.integrations.list(tenantID: tenant.id)
        var views: [IntegrationView] = []
        for integration in items { views.append(await view(integration)) }
        return try JSONResponse.make(ListView(items: views))
    }

    private func view(_ integration: Integration) async -> IntegrationView {
        let key = CircuitBreakers.key(tenantID: integration.tenantID, integration: integration.kind.rawValue)
        return IntegrationView(integration, circuit: await services.breakers.stateName(key))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let kind = try kind(context)
        guard let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: kind) else {
            throw SwitchboardError.notFound("\(kind.rawValue) integration")
        }
        return try JSONResponse.make(await view(integration))
    }

    /// `settings` replaces the settings object; `secrets` merges (a `null` value removes a secret),
    /// because clients never see the stored secrets and could not send them back.
    struct SaveBody: StrictBody {
        var enabled: Bool?
        var settings: [String: JSONValue]?
        var secrets: [String: String?]?
        enum CodingKeys: String, CodingKey, CaseIterable { case enabled, settings, secrets }
    }

    @Sendable func save(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let kind = try kind(context)
        let body = try await request.decodeJSON(SaveBody.self, limit: services.settings.maxBodyBytes)
        let saved = try await services.stores.integrations.save(
            tenantID: tenant.id, kind: kind,
            change: .init(enabled: body.enabled, settings: body.settings, secrets: body.secrets))
        await services.configChanged(tenantID: tenant.id)
        context.logger.info(
            "integration saved",
            metadata: ["integration": "\(kind.rawValue)", "secrets": "\(saved.maskedSecrets.keys.sorted())"])
        return try JSONResponse.make(await view(saved))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        try await services.stores.integrations.delete(tenantID: tenant.id, kind: try kind(context))
        await services.configChanged(tenantID: tenant.id)
        return Response(status: .noContent)
    }

    private func toggle(_ context: AppRequestContext, enabled: Bool) async throws -> Response {
        let tenant = try context.requireTenant()
        let saved = try await services.stores.integrations.setEnabled(tenantID: tenant.id, kind: try kind(context), enabled)
        await services.configChanged(tenantID: tenant.id)
        return try JSONResponse.make(await view(saved))
    }

    /// Runs the connection test for an integration and records the outcome in the integration log.
    static func runTest(_ integration: Integration, services: AppServices) async -> ConnectionTestResult {
        let started = ContinuousClock.now
        let result = await services.tester(for: integration.kind).test(integration)
        let elapsed = ContinuousClock.now - started
        let summary = result.checks.map { "\($0.name): \($0.ok ? "ok" : "failed") — \($0.detail)" }.joined(separator: "; ")
        do {
            try await services.stores.logs.append(
                IntegrationLogEntry(
                    tenantID: integration.tenantID, integration: integration.kind.rawValue, event: "connection_test", ok: result.ok,
                    request: nil, response: summary, error: result.checks.first(where: { !$0.ok })?.detail, duration: elapsed))
        } catch {
            services.logger.error("cannot write the integration log", metadata: ["error": "\(error)"])
        }
        return result
    }

    /// Runs the connection test for the kind and records the outcome in the integration log.
    @Sendable func test(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let kind = try kind(context)
        guard let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: kind) else {
            throw SwitchboardError.notFound("\(kind.rawValue) integration")
        }
        let result = await Self.runTest(integration, services: services)
        return try JSONResponse.make(result)
    }
}
