import Analytics
import Foundation
import Mirror
import Sandbox
import Server
import Storage
import SwitchboardCore
import Synchronization

/// The demo's analytics: 90 days of generated call history in the call log, the Sandbox's fake language
/// model (it answers in the LLM's JSON format with the SQL the built-in planner writes — a stand-in for
/// OpenAI, which the demo never reaches), and a sample dashboard that fills in once the mirror has synced.
enum DemoAnalytics {
    /// The services, once the server has made them (the fake model's brain reads the mirror through them).
    final class ServicesBox: Sendable {
        private let storage = Mutex<(AppServices, String)?>(nil)
        var value: (AppServices, String)? {
            get { storage.withLock { $0 } }
            set { storage.withLock { $0 = newValue } }
        }
    }

    /// Call history as a PBX `download` backfill would leave it (the few live demo calls come through the real intake).
    static func seedCallHistory(_ services: AppServices, tenantID: String) async throws {
        let now = Date.storageNow
        let calls = CallHistoryGenerator.calls(
            count: 2_400, days: 90, extensions: ["100", "101", "102"], seed: 2026, now: now, timeZone: TimeZone(identifier: "Europe/Moscow") ?? .gmt)
        let records = calls.map { call in
            CallRecord(id: Identifiers.newID(), tenantID: tenantID, source: .download, progress: .completed, dialSeen: true, call: call, createdAt: now, updatedAt: now)
        }
        for chunk in stride(from: 0, to: records.count, by: 500) {
            try await CallRepository(services.database).save(Array(records[chunk..<min(chunk + 500, records.count)]))
        }
    }

    /// The fake model's answers: the built-in planner's SQL and chart for the demo tenant, as strict JSON.
    static func brain(_ box: ServicesBox) -> FakeLLM.Brain {
        { request in
            guard let (services, tenantID) = box.value else { return nil }
            let question = request.question.components(separatedBy: "\n(Draw it as").first ?? request.question
            do {
                let dictionary = try await MirrorDatabase.with(tenantID: tenantID, main: services.database, integrations: services.stores.integrations) { mirror in
                    try await DataDictionary.build(mirror, statistics: false)
                }
                let plan = try OfflinePlanner.plan(question, dictionary: dictionary, timeZone: TimeZone(identifier: "Europe/Moscow") ?? .gmt)
                let chart = try JSONValue(encoding: plan.chart).objectValue ?? [:]
                var full: [String: JSONValue] = ["x": nil, "series": nil, "compare": nil, "format": nil, "subtitle": nil]
                full.merge(chart) { _, new in new }
                return JSONValue.object([
                    "sql": .string(plan.sql), "chart": .object(full), "title": .string(plan.title),
                    "explanation": .string("(Sandbox model) " + plan.explanation), "cannot_answer": nil,
                ]).jsonText
            } catch {
                let reason = (error as? SwitchboardError)?.message ?? "\(error)"
                return JSONValue.object(["sql": "", "chart": nil, "title": "", "explanation": "", "cannot_answer": .string(reason)]).jsonText
            }
        }
    }

    static let dashboardQuestions = [
        "Сумма сделок по стадиям", "Конверсия по стадиям", "Выигранные и проигранные сделки по месяцам", "Звонки по дням недели и часам",
        "Пропущенные звонки по дням", "Сколько звонков за последние 7 дней",
    ]

    /// A dashboard of sample charts, refreshed every 15 minutes, made once the deals and the call log are in the mirror.
    static func buildDashboard(_ services: AppServices, tenantID: String) async {
        guard let tenant = try? await services.stores.tenants.require(tenantID) else { return }
        let repository = DashboardRepository(services.database)
        if (try? await repository.list(tenantID: tenantID))?.isEmpty == false { return }
        for _ in 0..<90 {
            try? await Task.sleep(for: .seconds(4))
            var tiles: [Dashboard.Tile] = []
            for (index, question) in dashboardQuestions.enumerated() {
                guard let (chart, _) = try? await services.charts.askAndSave(question, tenant: tenant, choice: .builtIn) else { break }
                tiles.append(Dashboard.Tile(chartID: chart.id, x: index % 2 * 6, y: index / 2 * 4, w: 6, h: 4))
            }
            guard tiles.count == dashboardQuestions.count else { continue }
            let now = Date.storageNow
            try? await repository.create(Dashboard(
                id: Identifiers.newID(), tenantID: tenantID, name: "Продажи и звонки / Sales and calls", layout: tiles, refreshMinutes: 15, createdAt: now, updatedAt: now))
            return
        }
    }
}
