import Analytics
import ArgumentParser
import Bitrix24
import Foundation
import Logging
import Mirror
import Sandbox
import Storage
import SwitchboardCore

/// `bench charts`: question → SVG without the LLM (built-in planner: dictionary, plan, guarded query,
/// validation, render) on a demo-sized mirror — the Bitrix24 emulator's deals and 90 days of calls — next
/// to the same SQL run alone; and rendering a 10,000-point line chart.
struct BenchCharts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "charts",
        abstract: "Question → SVG latency (excluding any LLM) on a demo-sized mirror, and a 10,000-point line render.",
        discussion: "SQLite in a temp directory unless --database-url names a PostgreSQL database.")

    @Option(help: "PostgreSQL URL; SQLite when absent.") var databaseURL: String?
    @Option(help: "Deals in the emulated Bitrix24 portal (the demo has 100000).") var deals = 100_000
    @Option(help: "Generated calls in the call log (the demo has 2400).") var calls = 2_400
    @Option(help: "Times each question is asked.") var rounds = 20

    static let questions = [
        "Сумма сделок по стадиям", "deals by manager", "Конверсия по стадиям", "Выигранные и проигранные сделки по месяцам", "Сделки по источникам",
        "Сколько сделок за последние 30 дней", "average deal amount by pipeline", "Звонки по дням недели и часам", "Пропущенные звонки по дням",
        "calls by outcome", "average talk time by manager", "Сколько звонков за последние 7 дней",
    ]

    func run() async throws {
        let logger = { var logger = Logger(label: "bench"); logger.logLevel = .error; return logger }()
        let location = try DatabaseLocation.resolve(
            databaseURL: databaseURL,
            dataDir: FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-bench-\(UUID().uuidString)").path)
        let (deals, calls, rounds) = (deals, calls, max(1, rounds))
        print("backend: \(location.backend.rawValue)  deals: \(deals)  calls: \(calls)  questions: \(Self.questions.count) × \(rounds) rounds")
        try await Database.withDatabase(location, logger: logger) { database in
            try await Migrator().migrate(database, logger: logger)
            let secrets = try SecretBox(key: Array(repeating: 1, count: 32))
            let integrations = IntegrationRepository(database, secrets: secrets)
            let created = try await TenantProvisioning.create(
                database: database, secrets: secrets, slug: "bench-charts-\(UUID().uuidString.prefix(6).lowercased())", name: "charts")
            let tenant = created.tenant
            // The mirror: the portal's deals and their references, then the call log.
            let portal = Bitrix24Emulator(deals: deals, contacts: 2_000, leads: 1_000, companies: 500, seed: 2026)
            let setup = ContinuousClock.now
            try await SandboxServer.withBitrix24(portal) { base in
                try await MirrorDatabase.with(tenantID: tenant.id, main: database, integrations: integrations) { mirror in
                    let sync = MirrorSync(
                        source: Bitrix24MirrorSource(client: BenchSync.client(base)), mirror: mirror, states: SyncStateRepository(database),
                        tenantID: tenant.id, logger: logger)
                    for entity in ["status", "category", "user", "deal"] { _ = try await sync.run(try sync.entity(named: entity), mode: .full) }
                }
            }
            let now = Date.storageNow
            let records = CallHistoryGenerator.calls(count: calls, days: 90, extensions: ["100", "101", "102"], now: now, timeZone: TimeZone(identifier: tenant.timeZone) ?? .gmt)
                .map { CallRecord(id: Identifiers.newID(), tenantID: tenant.id, source: .download, progress: .completed, dialSeen: true, call: $0, createdAt: now, updatedAt: now) }
            for chunk in stride(from: 0, to: records.count, by: 500) { try await CallRepository(database).save(Array(records[chunk..<min(chunk + 500, records.count)])) }
            _ = try await CallLogMirror(database: database, integrations: integrations).copy(tenantID: tenant.id)
            print("mirror ready in \(BenchSync.seconds(ContinuousClock.now - setup)) s")

            let asker = ChartAsker(database: database, integrations: integrations, llm: nil, logger: logger)
            var total: [Double] = []
            var sqlOnly: [Double] = []
            var render: [Double] = []
            var perQuestion: [(String, Double)] = []
            for question in Self.questions {
                var times: [Double] = []
                for _ in 0..<rounds {
                    let started = ContinuousClock.now
                    let outcome = try await asker.ask(question, tenant: tenant, choice: .builtIn)
                    let drawn = ContinuousClock.now
                    let svg = ChartRenderer.svg(outcome.plan.chart, columns: outcome.result.columns, rows: outcome.result.rows)
                    let finished = ContinuousClock.now
                    precondition(!svg.isEmpty)
                    times.append((finished - started).inSeconds * 1000)
                    render.append((finished - drawn).inSeconds * 1000)
                    // The same SQL alone, behind the same guards: the part of the time the database owns.
                    let query = ContinuousClock.now
                    _ = try await MirrorQuery.run(outcome.plan.sql, tenantID: tenant.id, main: database, integrations: integrations, rowLimit: 1000, logger: logger)
                    sqlOnly.append((ContinuousClock.now - query).inSeconds * 1000)
                }
                total += times
                perQuestion.append((question, Self.percentile(times, 0.95)))
            }
            let overhead = zip(total, sqlOnly).map { max(0, $0 - $1) }
            for (question, p95) in perQuestion { print("  " + question.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: " p95 %7.1f ms", p95)) }
            print(String(format: "question → SVG: p50 %.1f ms  p95 %.1f ms  max %.1f ms  (%d asks)", Self.percentile(total, 0.5), Self.percentile(total, 0.95), total.max() ?? 0, total.count))
            print(String(format: "  the same SQL alone: p50 %.1f ms  p95 %.1f ms;  everything but the SQL: p50 %.1f ms  p95 %.1f ms;  render alone p95 %.2f ms",
                Self.percentile(sqlOnly, 0.5), Self.percentile(sqlOnly, 0.95), Self.percentile(overhead, 0.5), Self.percentile(overhead, 0.95), Self.percentile(render, 0.95)))
        }
        // A 10,000-point line.
        let rows: [[JSONValue]] = (0..<10_000).map { [.string("2026-01-01 \($0)"), .number(sin(Double($0) / 300) * 1000 + Double($0 % 97))] }
        let spec = ChartSpec(type: .line, x: "t", y: "v", title: "10 000 точек")
        var lines: [Double] = []
        var size = 0
        for _ in 0..<50 {
            let started = ContinuousClock.now
            size = ChartRenderer.svg(spec, columns: ["t", "v"], rows: rows).utf8.count
            lines.append((ContinuousClock.now - started).inSeconds * 1000)
        }
        print(String(format: "10,000-point line → SVG (%d KB): p50 %.1f ms  p95 %.1f ms  (50 renders)", size / 1024, Self.percentile(lines, 0.5), Self.percentile(lines, 0.95)))
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
