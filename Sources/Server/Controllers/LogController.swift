import Foundation
import Hummingbird
import Storage
import SwitchboardCore

/// `/api/v1/tenants/{tenant}/logs`: the integration log, newest first, filterable and pageable by time.
struct LogController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("logs", use: list)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var filter = IntegrationLogRepository.Filter()
        if let integration = query.get("integration") {
            guard IntegrationKind(rawValue: integration) != nil else {
                throw SwitchboardError.invalid("integration", "unknown integration '\(integration)'")
            }
            filter.integration = integration
        }
        if let status = query.get("status") {
            guard let parsed = IntegrationLogEntry.Status(rawValue: status) else {
                throw SwitchboardError.invalid("status", "status must be success or error")
            }
            filter.status = parsed
        }
        if let event = query.get("event_type") {
            guard (1...100).contains(event.count) else { throw SwitchboardError.invalid("event_type", "event_type must be 1–100 characters") }
            filter.eventType = event
        }
        if let before = query.get("before") {
            guard let date = ISO8601DateFormatter().date(from: before) else {
                throw SwitchboardError.invalid("before", "before must be an ISO 8601 time")
            }
            filter.before = date
        }
        if let limit = try request.limitParameter() { filter.limit = limit }
        let entries = try await services.stores.logs.list(tenantID: try context.requireTenant().id, filter: filter)
        return try JSONResponse.make(ListView(items: entries.map(LogView.init)))
    }
}
