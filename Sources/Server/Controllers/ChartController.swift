import Analytics
import Foundation
import Hummingbird
import Storage
import SwitchboardCore

/// Questions about the tenant's mirror turned into charts (seed 001's AI charts): `POST …/charts/ask`,
/// `GET …/charts` and `GET …/charts/{id}.{svg|png|json|csv|md|vl.json}`; the LLM planner's few-shot examples
/// (`…/chart-examples`) and its token usage (`GET …/llm/usage`).
struct ChartController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.post("charts/ask", use: ask)
        tenant.get("charts", use: list)
        tenant.get("charts/{file}", use: file)
        tenant.post("chart-examples", use: addExample)
        tenant.get("chart-examples", use: examples)
        tenant.delete("chart-examples/{id}", use: deleteExample)
        tenant.get("llm/usage", use: usage)
    }

    struct AskBody: StrictBody {
        var question: String
        var chartType: String?
        var planner: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case question, chartType = "chart_type", planner }
    }

    static func chartType(_ name: String?) throws(SwitchboardError) -> ChartSpec.Kind? {
        guard let name else { return nil }
        guard let kind = ChartSpec.Kind(rawValue: name) else {
            throw SwitchboardError.invalid("chart_type", "chart_type must be one of \(ChartSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return kind
    }

    /// Question → SQL (the LLM planner when configured, else the built-in one) → guarded run → a validated
    /// chart with its data, kept for `GET …/charts/{id}.{format}`.
    @Sendable func ask(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(AskBody.self, limit: 16 * 1024)
        let question = body.question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (3...500).contains(question.count) else { throw SwitchboardError.invalid("question", "ask in 3–500 characters") }
        let kind = try Self.chartType(body.chartType)
        var choice = ChartAsker.Choice.auto
        if let name = body.planner {
            guard let parsed = ChartAsker.Choice(rawValue: name) else { throw SwitchboardError.invalid("planner", "planner must be auto, llm or built-in") }
            choice = parsed
        }
        let (stored, outcome) = try await services.charts.askAndSave(question, tenant: tenant, chartType: kind, choice: choice)
        var answer: [String: JSONValue] = [
            "id": .string(stored.id), "links": ChartFiles.links("/api/v1/tenants/\(tenant.slug)/charts/\(stored.id)"),
            "title": .string(outcome.plan.title), "sql": .string(outcome.plan.sql), "chart": stored.spec, "data": stored.result,
            "explanation": .string(outcome.plan.explanation), "planner": .string(outcome.planner),
        ]
        if let usage = outcome.usage { answer["usage"] = try JSONValue(encoding: usage) }
        if !outcome.repairs.isEmpty { answer["repairs"] = .array(outcome.repairs.map(JSONValue.string)) }
        if let fallback = outcome.fallback { answer["fallback_reason"] = .string(fallback) }
        return try JSONResponse.make(JSONValue.object(answer))
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let limitText = request.uri.queryParameters.get("limit") ?? "50"
        guard let limit = Int(limitText), (1...500).contains(limit) else { throw SwitchboardError.invalid("limit", "limit must be 1–500") }
        let charts = try await ChartRepository(services.database).list(tenantID: tenant.id, limit: limit)
        return try JSONResponse.make(JSONValue.object(["charts": .array(charts.map { chart in
            [
                "id": .string(chart.id), "question": .string(chart.question), "title": .string(chart.title), "planner": .string(chart.planner),
                "created_at": .string(chart.createdAt.ISO8601Format()), "links": ChartFiles.links("/api/v1/tenants/\(tenant.slug)/charts/\(chart.id)"),
            ]
        })]))
    }

    @Sendable func file(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let (id, format) = try ChartFiles.split(try context.parameters.require("file"))
        guard let stored = try await ChartRepository(services.database).find(tenantID: tenant.id, id: id) else { throw SwitchboardError.notFound("chart") }
        var query: [String: String] = [:]
        for key in ["theme", "lang"] { query[key] = request.uri.queryParameters.get(key) }
        return try ChartFiles.response(stored, format: format, query: query)
    }

    struct ExampleBody: StrictBody {
        var question: String?
        var sql: String?
        var chartID: String?
        enum CodingKeys: String, CodingKey, CaseIterable { case question, sql, chartID = "chart_id" }
    }

    /// Saves a good question → SQL pair (`{question, sql}`, or `{chart_id}` of a chart that answered well).
    /// The SQL must pass the guard and run on the tenant's mirror now.
    @Sendable func addExample(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(ExampleBody.self, limit: 64 * 1024)
        var question = body.question?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        var sql = body.sql?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if let chartID = body.chartID {
            guard let chart = try await ChartRepository(services.database).find(tenantID: tenant.id, id: chartID) else {
                throw SwitchboardError.notFound("chart", field: "chart_id")
            }
            if question.isEmpty { question = chart.question }
            if sql.isEmpty { sql = chart.sql }
        }
        guard (3...500).contains(question.count) else { throw SwitchboardError.invalid("question", "give the question in 3–500 characters") }
        guard (1...20_000).contains(sql.count) else { throw SwitchboardError.invalid("sql", "give the SQL that answers it (up to 20000 characters)") }
        do {
            _ = try await MirrorQuery.run(sql, tenantID: tenant.id, main: services.database, integrations: services.stores.integrations, rowLimit: 1, logger: context.logger)
        } catch let error as SwitchboardError {
            throw SwitchboardError.invalid("sql", "the SQL does not run on this mirror: \(error.message)")
        }
        let example = StoredChartExample(id: Identifiers.newID(), tenantID: tenant.id, question: question, sql: sql, createdAt: .storageNow)
        try await AnalyticsRepository(services.database).addExample(example)
        return try JSONResponse.make(Self.json(example), status: .created)
    }

    static func json(_ example: StoredChartExample) -> JSONValue {
        ["id": .string(example.id), "question": .string(example.question), "sql": .string(example.sql), "created_at": .string(example.createdAt.ISO8601Format())]
    }

    @Sendable func examples(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let examples = try await AnalyticsRepository(services.database).examples(tenantID: tenant.id)
        return try JSONResponse.make(JSONValue.object(["examples": .array(examples.map(Self.json))]))
    }

    @Sendable func deleteExample(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard try await AnalyticsRepository(services.database).deleteExample(tenantID: tenant.id, id: try context.parameters.require("id")) else {
            throw SwitchboardError.notFound("example")
        }
        return Response(status: .noContent)
    }

    /// `GET …/llm/usage?days=30`: the model in use and the tokens it used per day.
    @Sendable func usage(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let daysText = request.uri.queryParameters.get("days") ?? "30"
        guard let days = Int(daysText), (1...366).contains(days) else { throw SwitchboardError.invalid("days", "days must be 1–366") }
        let since = String(Date().addingTimeInterval(-Double(days - 1) * 86_400).ISO8601Format().prefix(10))
        let rows = try await AnalyticsRepository(services.database).usage(tenantID: tenant.id, since: since)
        func total(_ key: String) -> JSONValue {
            .number(rows.compactMap { row -> Double? in if case .number(let value)? = row.objectValue?[key] { value } else { nil } }.reduce(0, +))
        }
        var answer: [String: JSONValue] = [
            "configured": .bool(services.settings.llm != nil), "days": .array(rows),
            "total": ["requests": total("requests"), "prompt_tokens": total("prompt_tokens"), "completion_tokens": total("completion_tokens"), "failures": total("failures")],
        ]
        if let llm = services.settings.llm { answer["model"] = .string(llm.model); answer["base_url"] = .string(llm.baseURL) }
        return try JSONResponse.make(JSONValue.object(answer))
    }
}
