import Foundation
import Hummingbird
import Storage
import SwitchboardCore
import Telephony

/// `/api/v1/tenants/{tenant}/calls`: the call log built from PBX events, one call with its raw events,
/// and replay to the CRMs.
struct CallController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("calls", use: list)
        tenant.get("calls/{id}", use: show)
        tenant.post("calls/replay", use: replay)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        var filter = CallRepository.Filter(tenantID: try context.requireTenant().id)
        filter.from = try Self.date(query.get("from"), field: "from")
        filter.to = try Self.date(query.get("to"), field: "to")
        if let text = query.get("outcome") {
            guard let outcome = CallOutcome(rawValue: text) else {
                throw SwitchboardError.invalid("outcome", "outcome must be one of \(CallOutcome.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.outcome = outcome
        }
        if let text = query.get("direction") {
            guard let direction = CallDirection(rawValue: text) else { throw SwitchboardError.invalid("direction", "direction must be in, out or internal") }
            filter.direction = direction
        }
        if let limit = try request.limitParameter() { filter.limit = limit }
        let calls = try await services.stores.calls.list(filter)
        return try JSONResponse.make(ListView(items: calls.map { CallView($0) }))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let record = try await services.stores.calls.find(tenantID: tenant.id, id: try context.parameters.require("id")) else {
            throw SwitchboardError.notFound("call")
        }
        var view = CallView(record)
        view.events = try await services.stores.calls.events(tenantID: tenant.id, callExternalID: record.call.externalID).map {
            CallView.Event(type: $0.type, source: $0.source, receivedAt: $0.receivedAt, payload: $0.payload)
        }
        return try JSONResponse.make(view)
    }

    struct ReplayBody: StrictBody {
        var ids: [String]?
        var from: String?
        var to: String?
        var integration: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case ids, from, to, integration }
    }

    /// Re-sends completed calls (by `ids`, or started in `[from, to)`) to the CRMs; already delivered steps are skipped.
    @Sendable func replay(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(ReplayBody.self, limit: services.settings.maxBodyBytes)
        var records: [CallRecord] = []
        if let ids = body.ids {
            guard body.from == nil, body.to == nil else { throw SwitchboardError.invalid("ids", "give either ids or from/to") }
            guard (1...1000).contains(ids.count) else { throw SwitchboardError.invalid("ids", "ids must list 1–1000 calls") }
            for id in ids {
                guard let record = try await services.stores.calls.find(tenantID: tenant.id, id: id) else {
                    throw SwitchboardError.notFound("call \(id)", field: "ids")
                }
                records.append(record)
            }
        } else {
            guard let from = try Self.date(body.from, field: "from"), let to = try Self.date(body.to, field: "to") else {
                throw SwitchboardError.invalid("from", "give ids, or both from and to")
            }
            guard from < to else { throw SwitchboardError.invalid("to", "to must be after from") }
            records = try await services.stores.calls.completed(tenantID: tenant.id, from: from, to: to, limit: CallReplay.maxCalls + 1)
            guard records.count <= CallReplay.maxCalls else {
                throw SwitchboardError.invalid("to", "more than \(CallReplay.maxCalls) calls in the period; replay a shorter one")
            }
        }
        var targets = try await CallIntake.targets(tenantID: tenant.id, integrations: services.stores.integrations)
        if let name = body.integration {
            guard let kind = IntegrationKind(rawValue: name), CallIntake.callTargets.contains(kind) else {
                throw SwitchboardError.invalid("integration", "integration must be one that takes calls: \(CallIntake.callTargets.map(\.rawValue).sorted().joined(separator: ", "))")
            }
            guard targets.contains(kind) else { throw SwitchboardError.conflict("the \(name) integration is not enabled", field: "integration") }
            targets = [kind]
        }
        guard !targets.isEmpty else { throw SwitchboardError.conflict("no enabled CRM integration takes calls", field: "integration") }
        let summary = try await CallReplay(queue: services.jobs).replay(records, targets: targets)
        return try JSONResponse.make(summary, status: .accepted)
    }

    static func date(_ text: String?, field: String) throws -> Date? {
        guard let text else { return nil }
        guard let date = ISO8601DateFormatter().date(from: text) else { throw SwitchboardError.invalid(field, "\(field) must be an ISO 8601 time") }
        return date
    }
}

/// A call as the API shows it.
struct CallView: Encodable {
    struct Event: Encodable {
        var type, source: String
        var receivedAt: Date
        var payload: String
    }

    var id, externalId, source, state, direction: String
    var customerPhone, trunk, answeredBy, outcome, recordingUrl: String?
    var extensions: [String]
    var startedAt: Date
    var answeredAt, endedAt: Date?
    var duration, billsec: Int
    var events: [Event]?

    init(_ record: CallRecord) {
        let call = record.call
        id = record.id
        externalId = call.externalID
        source = record.source.rawValue
        state = record.progress.rawValue
        direction = call.direction.rawValue
        customerPhone = call.customerPhone
        trunk = call.trunk
        answeredBy = call.answeredBy
        outcome = record.progress == .completed ? call.outcome.rawValue : nil
        recordingUrl = call.recordingURL
        extensions = call.extensions
        startedAt = call.startedAt
        answeredAt = call.answeredAt
        endedAt = call.endedAt
        duration = call.duration
        billsec = call.billsec
    }
}
