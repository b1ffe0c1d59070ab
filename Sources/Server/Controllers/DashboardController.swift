import Analytics
import Foundation
import Hummingbird
import Storage
import SwitchboardCore

/// Dashboards: named sets of saved charts on a 12-column grid, refreshed on a schedule (a job per
/// dashboard) with the results cached on the charts, and shared read-only through a signed, expiring link
/// (`GET /share/dashboards/{token}`) that the owner can revoke.
struct DashboardController {
    let services: AppServices

    static let refreshKind = "dashboards.refresh"
    static let columns = 12

    func register(on tenant: RouterGroup<AppRequestContext>, router: Router<AppRequestContext>) {
        tenant.post("dashboards", use: create)
        tenant.get("dashboards", use: list)
        tenant.get("dashboards/{id}", use: show)
        tenant.patch("dashboards/{id}", use: update)
        tenant.delete("dashboards/{id}", use: delete)
        tenant.post("dashboards/{id}/charts", use: addChart)
        tenant.post("dashboards/{id}/refresh", use: refresh)
        tenant.post("dashboards/{id}/share", use: share)
        tenant.delete("dashboards/{id}/share", use: revoke)
        router.get("share/dashboards/{token}", use: shared)
    }

    struct Body: StrictBody {
        var name: String?
        var layout: [Dashboard.Tile]?
        var refreshMinutes: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case name, layout, refreshMinutes = "refresh_minutes" }
    }

    func load(_ context: AppRequestContext) async throws -> (Tenant, Dashboard) {
        let tenant = try context.requireTenant()
        guard let dashboard = try await DashboardRepository(services.database).find(tenantID: tenant.id, id: try context.parameters.require("id")) else {
            throw SwitchboardError.notFound("dashboard")
        }
        return (tenant, dashboard)
    }

    static func validName(_ name: String?) throws(SwitchboardError) -> String {
        let trimmed = (name ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...120).contains(trimmed.count) else { throw SwitchboardError.invalid("name", "give the dashboard a name of 1–120 characters") }
        return trimmed
    }

    static func validRefresh(_ minutes: Int?) throws(SwitchboardError) -> Int? {
        guard let minutes else { return nil }
        guard (5...10_080).contains(minutes) else { throw SwitchboardError.invalid("refresh_minutes", "refresh every 5–10080 minutes, or leave it out") }
        return minutes
    }

    /// Tiles inside the 12-column grid, not overlapping, naming charts of this tenant.
    func validLayout(_ layout: [Dashboard.Tile], tenantID: String) async throws -> [Dashboard.Tile] {
        guard layout.count <= 48 else { throw SwitchboardError.invalid("layout", "a dashboard holds at most 48 charts") }
        for (index, tile) in layout.enumerated() {
            let field = "layout[\(index)]"
            guard tile.x >= 0, tile.y >= 0, (1...Self.columns).contains(tile.w), (1...12).contains(tile.h), tile.x + tile.w <= Self.columns, tile.y < 1000 else {
                throw SwitchboardError.invalid(field, "a tile sits in 12 columns: 0 ≤ x, 1 ≤ w, x + w ≤ 12, 1 ≤ h ≤ 12, 0 ≤ y")
            }
            for (other, earlier) in layout.prefix(index).enumerated() {
                if earlier.chartID == tile.chartID { throw SwitchboardError.invalid(field, "chart \(tile.chartID) is already on the dashboard (layout[\(other)])") }
                if tile.x < earlier.x + earlier.w, earlier.x < tile.x + tile.w, tile.y < earlier.y + earlier.h, earlier.y < tile.y + tile.h {
                    throw SwitchboardError.invalid(field, "the tile overlaps layout[\(other)]")
                }
            }
        }
        let found = Set(try await ChartRepository(services.database).find(tenantID: tenantID, ids: layout.map(\.chartID)).map(\.id))
        if let missing = layout.firstIndex(where: { !found.contains($0.chartID) }) {
            throw SwitchboardError.invalid("layout[\(missing)]", "there is no chart \(layout[missing].chartID) in this tenant")
        }
        return layout
    }

    func json(_ dashboard: Dashboard, tenant: Tenant, withCharts: Bool) async throws -> JSONValue {
        var object = try JSONValue(encoding: dashboard).objectValue ?? [:]
        object.removeValue(forKey: "tenant_id")
        // Times as ISO 8601, like every other API answer.
        object["created_at"] = .string(dashboard.createdAt.ISO8601Format())
        object["updated_at"] = .string(dashboard.updatedAt.ISO8601Format())
        object["refreshed_at"] = dashboard.refreshedAt.map { .string($0.ISO8601Format()) } ?? .null
        object["refresh_minutes"] = dashboard.refreshMinutes.map { .number(Double($0)) } ?? .null
        guard withCharts else { return .object(object) }
        let charts = try await ChartRepository(services.database).find(tenantID: tenant.id, ids: dashboard.layout.map(\.chartID))
        let byID = Dictionary(uniqueKeysWithValues: charts.map { ($0.id, $0) })
        object["charts"] = .array(dashboard.layout.compactMap { tile in
            guard let chart = byID[tile.chartID] else { return nil }
            var item: [String: JSONValue] = [
                "id": .string(chart.id), "title": .string(chart.title), "question": .string(chart.question), "chart": chart.spec,
                "links": ChartFiles.links("/api/v1/tenants/\(tenant.slug)/charts/\(chart.id)"),
            ]
            if let refreshed = chart.refreshedAt { item["refreshed_at"] = .string(refreshed.ISO8601Format()) }
            if let error = chart.refreshError { item["refresh_error"] = .string(error) }
            return .object(item)
        })
        return .object(object)
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await request.decodeJSON(Body.self, limit: 64 * 1024)
        let now = Date.storageNow
        let dashboard = Dashboard(
            id: Identifiers.newID(), tenantID: tenant.id, name: try Self.validName(body.name),
            layout: try await validLayout(body.layout ?? [], tenantID: tenant.id), refreshMinutes: try Self.validRefresh(body.refreshMinutes),
            createdAt: now, updatedAt: now)
        try await DashboardRepository(services.database).create(dashboard)
        return try JSONResponse.make(try await json(dashboard, tenant: tenant, withCharts: true), status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        var items: [JSONValue] = []
        for dashboard in try await DashboardRepository(services.database).list(tenantID: tenant.id) {
            items.append(try await json(dashboard, tenant: tenant, withCharts: false))
        }
        return try JSONResponse.make(JSONValue.object(["dashboards": .array(items)]))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, dashboard) = try await load(context)
        return try JSONResponse.make(try await json(dashboard, tenant: tenant, withCharts: true))
    }

    /// `PATCH` with any of `name`, `layout` (the whole grid), `refresh_minutes` (`null` stops scheduled refreshes).
    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        var (tenant, dashboard) = try await load(context)
        let data = Data(buffer: try await request.collectBody(limit: 64 * 1024))
        let body = try Request.decodeStrict(Body.self, data: data)
        let keys = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]).map { Set($0.keys) } ?? []
        if keys.contains("name") { dashboard.name = try Self.validName(body.name) }
        if let layout = body.layout { dashboard.layout = try await validLayout(layout, tenantID: tenant.id) }
        if keys.contains("refresh_minutes") { dashboard.refreshMinutes = try Self.validRefresh(body.refreshMinutes) }
        try await DashboardRepository(services.database).update(dashboard)
        return try JSONResponse.make(try await json(dashboard, tenant: tenant, withCharts: true))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, dashboard) = try await load(context)
        _ = try await DashboardRepository(services.database).delete(tenantID: tenant.id, id: dashboard.id)
        return Response(status: .noContent)
    }

    struct AddBody: StrictBody {
        var chartID: String?
        var question: String?
        var chartType: String?
        var w: Int?
        var h: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case chartID = "chart_id", question, chartType = "chart_type", w, h }
    }

    /// Puts a saved chart (`chart_id`) or a new question's chart (`question`) on the dashboard, in the first
    /// place on the grid where it fits (`w` columns × `h` rows, default 6 × 4).
    @Sendable func addChart(_ request: Request, context: AppRequestContext) async throws -> Response {
        var (tenant, dashboard) = try await load(context)
        let body = try await request.decodeJSON(AddBody.self, limit: 16 * 1024)
        let (w, h) = (body.w ?? 6, body.h ?? 4)
        guard (1...Self.columns).contains(w) else { throw SwitchboardError.invalid("w", "w must be 1–12 columns") }
        guard (1...12).contains(h) else { throw SwitchboardError.invalid("h", "h must be 1–12 rows") }
        let chartID: String
        switch (body.chartID, body.question) {
        case (let id?, nil): chartID = id
        case (nil, let question?):
            let text = question.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (3...500).contains(text.count) else { throw SwitchboardError.invalid("question", "ask in 3–500 characters") }
            chartID = try await services.charts.askAndSave(text, tenant: tenant, chartType: try ChartController.chartType(body.chartType)).0.id
        default: throw SwitchboardError.invalid("chart_id", "give either chart_id or question")
        }
        var place = (x: 0, y: 0)
        search: for y in 0..<1000 {
            for x in 0...(Self.columns - w) {
                let free = !dashboard.layout.contains { $0.x < x + w && x < $0.x + $0.w && $0.y < y + h && y < $0.y + $0.h }
                if free { place = (x, y); break search }
            }
        }
        dashboard.layout = try await validLayout(dashboard.layout + [Dashboard.Tile(chartID: chartID, x: place.x, y: place.y, w: w, h: h)], tenantID: tenant.id)
        try await DashboardRepository(services.database).update(dashboard)
        return try JSONResponse.make(try await json(dashboard, tenant: tenant, withCharts: true), status: .created)
    }

    /// Runs every chart's SQL again now.
    @Sendable func refresh(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, dashboard) = try await load(context)
        try await Self.refresh(dashboard, services: services)
        let updated = try await DashboardRepository(services.database).find(tenantID: tenant.id, id: dashboard.id) ?? dashboard
        return try JSONResponse.make(try await json(updated, tenant: tenant, withCharts: true))
    }

    /// Refreshes the charts of `dashboard` one by one (a failing chart keeps its last result and says why).
    static func refresh(_ dashboard: Dashboard, services: AppServices) async throws {
        let charts = try await ChartRepository(services.database).find(tenantID: dashboard.tenantID, ids: dashboard.layout.map(\.chartID))
        let now = Date.storageNow
        for chart in charts { _ = await services.charts.refresh(chart, now: now) }
        try await DashboardRepository(services.database).markRefreshed(tenantID: dashboard.tenantID, id: dashboard.id, at: now)
    }

    struct ShareBody: StrictBody {
        var days: Int?
        enum CodingKeys: String, CodingKey, CaseIterable { case days }
    }

    /// `{days}` (1–365, default 30) → a read-only link anyone holding it can open until it expires.
    @Sendable func share(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, dashboard) = try await load(context)
        let buffer = try await request.collectBody(limit: 4096)
        let body = buffer.readableBytes == 0 ? ShareBody() : try Request.decodeStrict(ShareBody.self, data: Data(buffer: buffer))
        let days = body.days ?? 30
        guard (1...365).contains(days) else { throw SwitchboardError.invalid("days", "a link lasts 1–365 days") }
        let now = Date()
        let token = try await services.adminTokens.issueShareLink(
            tenantID: tenant.id, dashboardID: dashboard.id, version: dashboard.shareVersion, lifetime: Double(days) * 86_400, now: now)
        let path = "/share/dashboards/\(token)"
        let base = (services.settings.publicURL ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return try JSONResponse.make(JSONValue.object([
            "url": .string(base + path), "path": .string(path), "expires_at": .string(now.addingTimeInterval(Double(days) * 86_400).ISO8601Format()),
        ]), status: .created)
    }

    /// Revokes every share link of the dashboard issued so far.
    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        var (_, dashboard) = try await load(context)
        dashboard.shareVersion += 1
        try await DashboardRepository(services.database).update(dashboard)
        return Response(status: .noContent)
    }

    /// The shared dashboard as a page of SVG charts (`?lang=en`, `?theme=dark`), or as JSON (`?format=json`).
    @Sendable func shared(_ request: Request, context: AppRequestContext) async throws -> Response {
        let token = try context.parameters.require("token")
        guard let link = await services.adminTokens.verifyShareLink(token),
            let dashboard = try await DashboardRepository(services.database).find(tenantID: link.tenantID, id: link.dashboardID),
            dashboard.shareVersion == link.version
        else {
            throw SwitchboardError(.notFound, code: "link_invalid", message: "this dashboard link is invalid, expired or revoked; ask its owner for a new one")
        }
        let charts = try await ChartRepository(services.database).find(tenantID: link.tenantID, ids: dashboard.layout.map(\.chartID))
        let query = request.uri.queryParameters
        let page = DashboardPage(
            dashboard: dashboard, charts: charts, language: AccountPage.language(query: query.get("lang"), header: request.headers[.acceptLanguage]),
            theme: ChartRenderer.Theme(rawValue: query.get("theme") ?? "light") ?? .light)
        if query.get("format") == "json" { return try JSONResponse.make(page.json) }
        return Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "private, max-age=60", .init("X-Robots-Tag")!: "noindex"],
            body: .init(byteBuffer: .init(string: page.html)))
    }
}
