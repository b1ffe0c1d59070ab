import Analytics
import HummingbirdTesting
import Foundation
import Mirror
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

/// The public question set (`eval/questions-amocrm.json`, RU + EN) scored by execution match against the
/// built-in planner on both backends, over a mirror of the amoCRM emulator's deals and a generated call log.
@Suite("Planner question set")
struct PlannerEvalTests {
    static var file: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../eval/questions-amocrm.json").standardized
    }

    /// The tenant's amoCRM deals and contacts mirrored, and `calls` generated calls copied into its mirror.
    static func seed(_ client: any TestClientProtocol, _ world: TestWorld, emulator: AmoCRMEmulator, base: String, calls: Int) async throws {
        let token = world.tenantA.apiTokenPlaintext
        try await AmoCRMMirrorTests.connect(client, token: token, base: base, emulator: emulator, longLived: true)
        for entity in ["lead", "status", "pipeline", "user", "contact"] { try await AmoCRMMirrorTests.sync(client, world, token: token, entity: entity) }
        let tenantID = world.tenantA.tenant.id
        let now = Date.storageNow
        let history = CallHistoryGenerator.calls(
            count: calls, days: 60, extensions: ["101", "102", "103"], seed: 7, now: now, timeZone: TimeZone(identifier: "Europe/Moscow") ?? .gmt)
        let records = history.map { call in
            CallRecord(id: Identifiers.newID(), tenantID: tenantID, source: .download, progress: .completed, dialSeen: true, call: call, createdAt: now, updatedAt: now)
        }
        try await CallRepository(world.services.database).save(records)
        let copied = try await CallLogMirror(database: world.services.database, integrations: world.services.stores.integrations).copy(tenantID: tenantID)
        #expect(copied == calls)
    }

    @Test("every question of the public set gets the expected result and chart", arguments: TestBackend.all)
    func questionSet(backend: TestBackend) async throws {
        let set = try JSONDecoder().decode(EvalSet.self, from: Data(contentsOf: Self.file))
        #expect(set.questions.count >= 30)
        #expect(set.questions.contains { $0.question.range(of: "[а-я]", options: .regularExpression) != nil } && set.questions.contains { $0.question.hasPrefix("calls") })
        let emulator = AmoCRMEmulator(leads: 300, contacts: 60, seed: 11, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                try await Self.seed(client, world, emulator: emulator, base: base, calls: 600)
                let report = try await world.services.charts.evaluate(set, tenant: world.tenantA.tenant, choice: .builtIn)
                for item in report.items where !item.matched || !item.chartMatched {
                    Issue.record("\(item.question): \(item.problem ?? "chart \(item.chart ?? "—")")")
                }
                #expect(report.score == 1 && report.chartsMatched == report.total)
                // The scorer itself can fail: a wrong expectation is counted as a miss.
                var wrong = set
                wrong.questions = [EvalCase(question: "Сколько всего сделок?", expectedSQL: .both("SELECT COUNT(*) + 1 FROM amocrm_leads"), expectedChart: "kpi", ordered: false)]
                #expect(try await world.services.charts.evaluate(wrong, tenant: world.tenantA.tenant).matched == 0)
            }
        }
    }
}
