import Access
import Bitrix24
import Jobs
import Foundation
import Hummingbird
import Mirror
import Storage
import SwitchboardCore

/// `/api/v1/tenants/{tenant}/webhooks/…` (seed 001): registers Switchboard's event handler on the
/// tenant's Bitrix24 portal for the entities whose events are on, removes it, lists what is registered.
///
/// `event.bind` works only for an installed app (OAuth). A portal connected by an incoming webhook gets a
/// 409 saying what to do instead: create an outgoing webhook in Bitrix24 with the handler URL given.
struct WebhookController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.post("webhooks/register", use: registerHandlers)
        tenant.delete("webhooks/unregister", use: unregisterHandlers)
        tenant.get("webhooks/registered", use: registered)
    }

    @Sendable func registerHandlers(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await change(request, context: context, unbind: false)
    }

    @Sendable func unregisterHandlers(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await change(request, context: context, unbind: true)
    }

    @Sendable func registered(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, _, client) = try await portal(context)
        let bindings = try await call { try await client.boundEvents() }
        let ours = bindings.filter { $0.handler.contains("/hooks/bitrix24/\(tenant.id)") || $0.handler.contains("/hooks/bitrix24/\(tenant.slug)") }
        return try JSONResponse.make(RegisteredView(items: bindings, switchboard: ours.map(\.event).sorted()))
    }

    private func change(_ request: Request, context: AppRequestContext, unbind: Bool) async throws -> Response {
        let (tenant, integration, client) = try await portal(context)
        guard let base = (request.uri.queryParameters.get("handler_base_url") ?? services.settings.publicURL)?
            .trimmingCharacters(in: CharacterSet(charactersIn: "/ ")), !base.isEmpty
        else {
            throw SwitchboardError.invalid(
                "handler_base_url", "give handler_base_url (the address Bitrix24 reaches Switchboard at) or set SWITCHBOARD_PUBLIC_URL")
        }
        guard let url = URL(string: base), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw SwitchboardError.invalid("handler_base_url", "handler_base_url must be an http(s) URL")
        }
        let handler = "\(base)/hooks/bitrix24/\(tenant.id)"
        let off = try await services.stores.syncStates.eventsOff(tenantID: tenant.id, integration: "bitrix24")
        let events = Bitrix24Entity.allCases.filter { unbind || !off.contains($0.rawValue) }.flatMap(\.events)
        // Binding twice is not an error: the handler is there, as asked.
        func failures(_ errors: [String: Bitrix24Error]) -> [String: Bitrix24Error] {
            errors.filter { !$0.value.message.localizedCaseInsensitiveContains("already bind") }
        }
        // Click-to-call comes as ONEXTERNALCALLSTART, online only, when the portal's calls go through Switchboard.
        let telephony = integration.settings["telephony"]?.boolValue == true && Bitrix24Access.mode(integration) == .app
        let online = events + (telephony || unbind ? ["ONEXTERNALCALLSTART"] : [])
        var errors = failures(try await call { try await client.bind(online, handler: handler, unbind: unbind) })
        if let wrongAuth = errors.values.first(where: { $0.code == "WRONG_AUTH_TYPE" || $0.code == "ACCESS_DENIED" || $0.status == 401 }) {
            throw SwitchboardError(
                .conflict, code: "bitrix24_needs_app",
                message: "Bitrix24 refused event.bind (\(wrongAuth.description)): handlers can be registered only by an installed app. "
                    + "With an incoming webhook, create an outgoing webhook in Bitrix24 (Developer resources → Other → Outgoing webhook) "
                    + "for the ONCRM… events with handler \(handler), and store its application token as secrets.application_token.",
                field: "integration")
        }
        // An app also binds the events offline: the portal queues them for the poll job, which loses nothing
        // when an online delivery does not get through (Bitrix24 never retries those).
        var offline: [String] = []
        if Bitrix24Access.mode(integration) == .app {
            let offlineErrors = failures(try await call { try await client.bind(events, handler: handler, offline: true, unbind: unbind) })
            offline = events.filter { offlineErrors[$0] == nil }
            for (event, error) in offlineErrors { errors["offline:" + event] = error }
            var settings = integration.settings
            settings["offline_events"] = .bool(!unbind && !offline.isEmpty)
            _ = try await services.stores.integrations.save(tenantID: tenant.id, kind: .bitrix24, change: .init(settings: settings))
            if !unbind, !offline.isEmpty { _ = try await services.jobs.enqueue(Bitrix24OfflineEvents.job(tenantID: tenant.id)) }
        }
        let view = ChangeView(
            handler: handler, events: online.filter { errors[$0] == nil }, offlineEvents: offline,
            errors: errors.mapValues(\.description), action: unbind ? "unregistered" : "registered")
        return try JSONResponse.make(view)
    }

    private func portal(_ context: AppRequestContext) async throws -> (Tenant, Integration, Bitrix24Client) {
        let tenant = try context.requireTenant()
        guard let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .bitrix24), integration.enabled else {
            throw SwitchboardError.conflict("connect and enable the bitrix24 integration first", field: "integration")
        }
        do {
            return (tenant, integration, try services.bitrix24.client(integration, event: "webhooks"))
        } catch let failure as JobFailure {
            throw SwitchboardError.conflict(failure.message, field: "integration")
        }
    }

    /// A portal error as an API answer: 502 when Bitrix24 is unreachable or failing, 409 when it refused.
    private func call<R: Sendable>(_ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as Bitrix24Error {
            if error.isRetryable { throw SwitchboardError(.unavailable, code: "bitrix24_unavailable", message: "Bitrix24: \(error.description)") }
            throw SwitchboardError(.conflict, code: "bitrix24_refused", message: "Bitrix24 refused: \(error.description)", field: "integration")
        } catch let failure as JobFailure {
            throw SwitchboardError(.unavailable, code: "bitrix24_unavailable", message: failure.message)
        }
    }
}

struct ChangeView: Encodable {
    var handler: String
    var events: [String]
    /// Events also bound offline (installed apps): queued by the portal and polled, so none is lost.
    var offlineEvents: [String]
    var errors: [String: String]
    var action: String
}

struct RegisteredView: Encodable {
    var items: [Bitrix24EventBinding]
    /// The events bound to this tenant's Switchboard handler.
    var switchboard: [String]
}
