import Analytics
import Foundation
import Hummingbird
import Mirror
import NIOCore
import Storage
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
        tenant.get("charts/{file}", use: chart)
    }

    /// `GET …/charts/{id}.{json|csv|md|vl.json|svg|png}` (`?theme=dark`, `?lang=en` for SVG and PNG).
    @Sendable func chart(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let file = try context.parameters.require("file")
        guard let dot = file.firstIndex(of: ".") else { throw SwitchboardError.invalid("file", "name a format: <id>.svg, .png, .json, .csv, .md or .vl.json") }
        let (id, format) = (String(file[..<dot]), String(file[file.index(after: dot)...]))
        guard let stored = try await ChartRepository(services.database).find(tenantID: tenant.id, id: id) else { throw SwitchboardError.notFound("chart") }
        guard let spec = try? JSONDecoder().decode(ChartSpec.self, from: Data(stored.spec.jsonText.utf8)) else {
            throw SwitchboardError(.internal, code: "chart_unreadable", message: "the stored chart spec cannot be read")
        }
        let result = stored.result.objectValue ?? [:]
        let columns = (result["columns"]?.arrayValue ?? []).compactMap(\.stringValue)
        let rows = (result["rows"]?.arrayValue ?? []).map { $0.arrayValue ?? [] }
        let query = request.uri.queryParameters
        let theme = ChartRenderer.Theme(rawValue: query.get("theme") ?? "light") ?? .light
        let locale = query.get("lang") == "en" ? "en" : "ru"
        func text(_ body: String, _ type: String) -> Response {
            Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        switch format {
        case "json":
            return try JSONResponse.make(JSONValue.object([
                "id": .string(stored.id), "question": .string(stored.question), "title": .string(stored.title), "sql": .string(stored.sql),
                "chart": stored.spec, "data": stored.result, "planner": .string(stored.planner),
            ]))
        case "csv": return text(ChartExports.csv(columns: columns, rows: rows), "text/csv; charset=utf-8")
        case "md": return text(ChartExports.markdown(title: stored.title, columns: columns, rows: rows), "text/markdown; charset=utf-8")
        case "vl.json": return text(ChartExports.vegaLite(spec, columns: columns, rows: rows).jsonText, "application/json; charset=utf-8")
        case "svg": return text(ChartRenderer.svg(spec, columns: columns, rows: rows, theme: theme, locale: locale), "image/svg+xml; charset=utf-8")
        case "png":
            guard let png = try ChartExports.png(svg: ChartRenderer.svg(spec, columns: columns, rows: rows, theme: theme, locale: locale)) else {
                throw SwitchboardError(.unavailable, code: "png_unavailable", message: "PNG needs rsvg-convert on the server (Debian: apt-get install librsvg2-bin); SVG works without it", field: "file")
            }
            return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: png)))
        default:
            throw SwitchboardError.invalid("file", "unknown format '\(format)'; use svg, png, json, csv, md or vl.json")
        }
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
        try plan.chart.validate(columns: result.columns, rows: result.rows)
        let id = Identifiers.newID()
        let data: JSONValue = ["columns": .array(result.columns.map(JSONValue.string)), "rows": .array(result.rows.map(JSONValue.array)), "truncated": .bool(result.truncated)]
        try await ChartRepository(services.database).save(StoredChart(
            id: id, tenantID: tenant.id, question: question, title: plan.title, sql: plan.sql, spec: try JSONValue(encoding: plan.chart), result: data,
            planner: "built-in", createdAt: .storageNow))
        let link = "/api/v1/tenants/\(tenant.slug)/charts/\(id)"
        let answer: JSONValue = [
            "id": .string(id), "links": .object(Dictionary(uniqueKeysWithValues: ["svg", "png", "json", "csv", "md", "vl.json"].map { ($0, JSONValue.string("\(link).\($0)")) })),
            "title": .string(plan.title), "sql": .string(plan.sql), "chart": try JSONValue(encoding: plan.chart),
            "data": data,
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
