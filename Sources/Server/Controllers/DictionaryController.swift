import Analytics
import Foundation
import Hummingbird
import Mirror
import NIOCore
import SwitchboardCore

/// `GET /api/v1/tenants/{tenant}/schema.md` and `schema.json`: the data dictionary of the tenant's mirror
/// (seed 001's "endpoint that describes every DB field in Markdown"); `POST …/query` `{sql, limit?}`: one
/// read-only SELECT over the mirror behind ``MirrorQuery``'s guards.
struct DictionaryController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("schema.md", use: markdown)
        tenant.get("schema.json", use: json)
        tenant.post("query", use: query)
        tenant.post("charts/ask", use: ask)
    }

    struct AskBody: StrictBody {
        var question: String
        var chartType: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case question, chartType = "chart_type" }
    }

    /// Question → SQL (the built-in planner; the LLM planner follows) → guarded run → a validated chart spec with its data.
    @Sendable func ask(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(AskBody.self, limit: 16 * 1024)
        let question = body.question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (3...500).contains(question.count) else { throw SwitchboardError.invalid("question", "ask in 3–500 characters") }
        var kind: ChartSpec.Kind?
        if let name = body.chartType {
            guard let parsed = ChartSpec.Kind(rawValue: name) else {
                throw SwitchboardError.invalid("chart_type", "chart_type must be one of \(ChartSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            kind = parsed
        }
        let dictionary = try await MirrorDatabase.with(tenantID: tenant.id, main: services.database, integrations: services.stores.integrations) { mirror in
            try await DataDictionary.build(mirror, statistics: false)
        }
        var plan = try OfflinePlanner.plan(question, dictionary: dictionary, timeZone: TimeZone(identifier: tenant.timeZone) ?? .gmt)
        if let kind { plan.chart.type = kind }
        let result = try await MirrorQuery.run(
            plan.sql, tenantID: tenant.id, main: services.database, integrations: services.stores.integrations, rowLimit: 1000, logger: context.logger)
        try plan.chart.validate(columns: result.columns, rowCount: result.rows.count)
        let answer: JSONValue = [
            "title": .string(plan.title), "sql": .string(plan.sql), "chart": try JSONValue(encoding: plan.chart),
            "data": ["columns": .array(result.columns.map(JSONValue.string)), "rows": .array(result.rows.map(JSONValue.array)), "truncated": .bool(result.truncated)],
            "explanation": .string(plan.explanation), "planner": "built-in",
        ]
        return try JSONResponse.make(answer)
    }

    struct QueryBody: StrictBody {
        var sql: String
        var limit: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case sql, limit }
    }

    @Sendable func query(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(QueryBody.self, limit: 64 * 1024)
        if let limit = body.limit, !(1...50_000).contains(limit) { throw SwitchboardError.invalid("limit", "limit must be 1–50000") }
        let result = try await MirrorQuery.run(
            body.sql, tenantID: tenant.id, main: services.database, integrations: services.stores.integrations,
            rowLimit: body.limit ?? MirrorQuery.defaultRowLimit, logger: context.logger)
        return try JSONResponse.make(result)
    }

    private func dictionary(_ context: AppRequestContext) async throws -> DataDictionary {
        let tenant = try context.requireTenant()
        return try await MirrorDatabase.with(tenantID: tenant.id, main: services.database, integrations: services.stores.integrations) { mirror in
            try await DataDictionary.build(mirror)
        }
    }

    @Sendable func markdown(_ request: Request, context: AppRequestContext) async throws -> Response {
        let text = try await dictionary(context).markdown
        return Response(status: .ok, headers: [.contentType: "text/markdown; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    @Sendable func json(_ request: Request, context: AppRequestContext) async throws -> Response {
        try JSONResponse.make(try await dictionary(context))
    }
}
