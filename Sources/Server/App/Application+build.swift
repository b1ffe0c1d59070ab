import Hummingbird
import Logging

/// Builds the router with every route family of DESIGN.md's HTTP map that exists so far.
public func buildRouter(services: AppServices) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: ObservabilityMiddleware(stats: services.stats))
    router.add(middleware: BodyLimitMiddleware(limit: services.settings.maxBodyBytes))
    OpsController(services: services).register(on: router)
    TelephonyController(services: services).register(on: router)
    RetailCRMCallbackController(services: services).register(on: router)
    Bitrix24HookController(services: services).register(on: router)
    AmoCRMHookController(services: services).register(on: router)

    let api = router.group("api/v1").add(middleware: AuthenticationMiddleware(authenticator: services.authenticator))
    AuthController(services: services).register(on: api)
    JobController(services: services).register(on: api)
    OpsController(services: services).registerAdmin(on: api)
    let tenant = api.group("tenants/{tenant}").add(middleware: TenantScopeMiddleware(tenants: services.stores.tenants))
    TenantController(services: services).register(api: api, tenant: tenant)
    IntegrationController(services: services).register(on: tenant)
    RetailCRMModuleController(services: services).register(on: tenant)
    ManagerController(services: services).register(on: tenant)
    TokenController(services: services).register(on: tenant)
    ScheduleController(services: services).register(on: tenant)
    PeopleController(services: services).register(on: tenant)
    CallController(services: services).register(on: tenant)
    SyncController(services: services).register(on: tenant)
    DictionaryController(services: services).register(on: tenant)
    ChartController(services: services).register(on: tenant)
    DashboardController(services: services).register(on: tenant, router: router)
    WebhookController(services: services).register(on: tenant)
    Bitrix24AppController(services: services).register(router: router, tenant: tenant)
    AmoCRMAppController(services: services).register(router: router, tenant: tenant)
    LogController(services: services).register(on: tenant)
    return router
}

/// The HTTP application: the router above bound to the configured address.
public func buildApplication(services: AppServices, logger: Logger) -> some ApplicationProtocol {
    Application(
        router: buildRouter(services: services),
        configuration: .init(
            address: .hostname(services.settings.host, port: services.settings.port), serverName: "Switchboard"),
        logger: logger)
}
