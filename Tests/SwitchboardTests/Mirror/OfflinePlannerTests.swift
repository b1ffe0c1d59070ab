import Analytics
import Foundation
import HummingbirdTesting
import Sandbox
import Server
import SwitchboardCore
import Testing

/// The built-in planner over a real mirror: questions in Russian and English give the same numbers as
/// hand-written SQL, with a chart that fits the result; a question beyond it is answered plainly.
@Suite("Built-in question planner")
struct OfflinePlannerTests {
    @Test("periods and dimensions are read from Russian and English questions")
    func understanding() throws {
        let now = Date(timeIntervalSince1970: 1_796_300_000)  // 2026-12-02
        let three = try OfflinePlanner.understand("Сумма сделок по менеджерам за последние 3 месяца", now: now)
        #expect(three.entity == .deal && three.metric == .sum && three.dimension == .manager)
        #expect(three.since.map { now.timeIntervalSince($0) / 86_400 }.map { (89...93).contains($0) } == true)
        let year = try OfflinePlanner.understand("calls by outcome this year", now: now)
        #expect(year.entity == .call && year.dimension == .outcome && year.since == Date(timeIntervalSince1970: 1_767_225_600))
        #expect(try OfflinePlanner.understand("Пропущенные звонки по дням", now: now).missed)
        #expect(try OfflinePlanner.understand("average deal amount by pipeline").metric == .average)
        #expect(throws: SwitchboardError.self) { try OfflinePlanner.understand("какая погода в Москве?") }
    }

    @Test("answers match hand-written SQL; the chart fits; unknown questions are refused with what it can do", arguments: TestBackend.all)
    func answers(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 150, contacts: 20, seed: 11, perSecond: 1000)
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                try await AmoCRMMirrorTests.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                for entity in ["lead", "status", "pipeline", "user"] { try await AmoCRMMirrorTests.sync(client, world, token: token, entity: entity) }
                func ask(_ question: String) async throws -> TestResponse {
                    try await client.send(.post, "/api/v1/tenants/alpha/charts/ask", token: token, json: JSONValue.object(["question": .string(question)]).jsonText)
                }
                func scalar(_ sql: String) async throws -> Double {
                    let answer = try await client.send(.post, "/api/v1/tenants/alpha/query", token: token, json: JSONValue.object(["sql": .string(sql)]).jsonText)
                    return ((answer.object["rows"] as? [[Any]])?.first?.first as? NSNumber)?.doubleValue ?? -1
                }
                func rows(_ answer: TestResponse) -> [[Any]] { ((answer.object["data"] as? [String: Any])?["rows"] as? [[Any]]) ?? [] }
                func total(_ answer: TestResponse) -> Double { rows(answer).compactMap { ($0.last as? NSNumber)?.doubleValue }.reduce(0, +) }

                let stages = try await ask("Сколько сделок по стадиям?")
                #expect(stages.status == .ok, "\(stages.text)")
                #expect((stages.object["chart"] as? [String: Any])?["type"] as? String == "bar")
                #expect(total(stages) == 150 && rows(stages).contains { $0.first as? String == "Переговоры" })

                let managers = try await ask("Сумма сделок по менеджерам")
                let sum = try await scalar("SELECT SUM(price) FROM amocrm_leads WHERE deleted_at IS NULL")
                #expect(abs(total(managers) - sum) < 0.01 && Set(rows(managers).compactMap { $0.first as? String }).isSubset(of: ["Анна Смирнова", "Олег Петров", "Ирина Кузнецова"]), "\(managers.text)")

                let monthly = try await ask("leads by month")
                #expect((monthly.object["chart"] as? [String: Any])?["type"] as? String == "line" && total(monthly) == 150)
                let months = rows(monthly).compactMap { $0.first as? String }
                #expect(months == months.sorted() && months.allSatisfy { $0.count == 10 }, "\(months)")

                let sources = try await ask("сделки по источникам utm")
                #expect(Set(rows(sources).compactMap { $0.first as? String }).isSubset(of: ["google", "yandex", "direct"]) && total(sources) == 150)

                let recent = try await ask("сколько сделок за последние 20 дней")
                let cutoff = Date().addingTimeInterval(-20 * 86_400)
                let expected = try await scalar(
                    backend == .postgres
                        ? "SELECT COUNT(*) FROM amocrm_leads WHERE deleted_at IS NULL AND created_at >= '\(cutoff.ISO8601Format())'"
                        : "SELECT COUNT(*) FROM amocrm_leads WHERE deleted_at IS NULL AND created_at >= '\(String(cutoff.ISO8601Format().prefix(19)).replacingOccurrences(of: "T", with: " "))'")
                #expect((recent.object["chart"] as? [String: Any])?["type"] as? String == "kpi" && (rows(recent).first?.first as? NSNumber)?.doubleValue == expected, "\(recent.text)")
                #expect((recent.object["chart"] as? [String: Any])?["compare"] as? String == "previous" && (recent.object["data"] as? [String: Any]).map { "\($0)" }?.contains("previous") == true)

                // Conversion: a funnel whose steps never grow, starting at every deal not lost.
                let funnel = try await ask("Конверсия по стадиям")
                let reached = rows(funnel).compactMap { ($0.last as? NSNumber)?.doubleValue }
                let notLost = try await scalar(
                    "SELECT COUNT(*) FROM amocrm_leads WHERE deleted_at IS NULL AND status_id <> 143 AND pipeline_id = "
                        + "(SELECT pipeline_id FROM amocrm_leads WHERE deleted_at IS NULL GROUP BY pipeline_id ORDER BY COUNT(*) DESC, pipeline_id LIMIT 1)")
                #expect((funnel.object["chart"] as? [String: Any])?["type"] as? String == "funnel" && reached.first == notLost && reached == reached.sorted(by: >), "\(funnel.text) \(notLost)")
                // Won vs lost, and by month as stacked bars.
                let outcome = try await ask("выигранные и проигранные сделки")
                let won = try await scalar("SELECT COUNT(*) FROM amocrm_leads WHERE deleted_at IS NULL AND status_id = 142")
                #expect((outcome.object["chart"] as? [String: Any])?["type"] as? String == "donut" && total(outcome) == 150)
                #expect(rows(outcome).first { $0.first as? String == "Выиграна" }.flatMap { ($0.last as? NSNumber)?.doubleValue } ?? 0 == won, "\(outcome.text)")
                let stacked = try await ask("won vs lost deals by month")
                #expect((stacked.object["chart"] as? [String: Any])?["type"] as? String == "stacked_bar" && (stacked.object["chart"] as? [String: Any])?["series"] as? String == "result")
                #expect(total(stacked) == 150, "\(stacked.text)")

                let average = try await ask("average deal amount by pipeline")
                #expect(average.status == .ok && rows(average).contains { $0.first as? String == "Воронка" })

                // The asked chart in every format.
                let chartID = try #require(managers.object["id"] as? String)
                let svg = try await client.send(.get, "/api/v1/tenants/alpha/charts/\(chartID).svg?theme=dark", token: token)
                #expect(svg.status == .ok && svg.headers[.contentType]?.hasPrefix("image/svg+xml") == true && ChartRendererTests.isXML(svg.text))
                #expect(svg.text.contains("#111827") && !svg.text.contains("NaN"))
                let csv = try await client.send(.get, "/api/v1/tenants/alpha/charts/\(chartID).csv", token: token)
                #expect(csv.text.hasPrefix("manager,total\r\n") && csv.text.components(separatedBy: "\r\n").count == rows(managers).count + 2)
                let vega = try await client.send(.get, "/api/v1/tenants/alpha/charts/\(chartID).vl.json", token: token)
                #expect(vega.text.contains("vega-lite/v5") && vega.object["mark"] != nil)
                #expect(try await client.send(.get, "/api/v1/tenants/alpha/charts/\(chartID).md", token: token).text.contains("| manager | total |"))
                #expect(try await client.send(.get, "/api/v1/tenants/alpha/charts/\(chartID).json", token: token).object["sql"] as? String == managers.object["sql"] as? String)
                let png = try await client.send(.get, "/api/v1/tenants/alpha/charts/\(chartID).png", token: token)
                #expect(png.status == .ok || (png.status == .serviceUnavailable && png.text.contains("rsvg-convert")))
                #expect(try await client.send(.get, "/api/v1/tenants/alpha/charts/\(chartID).gif", token: token).status == .badRequest)
                #expect(try await client.send(.get, "/api/v1/tenants/alpha/charts/nope.svg", token: token).status == .notFound)
                #expect(try await client.send(.get, "/api/v1/tenants/bravo/charts/\(chartID).svg", token: token).status == .notFound)

                let weather = try await ask("какая погода в Москве?")
                #expect(weather.status == .serviceUnavailable && weather.errorField == "question" && weather.text.contains("cannot_answer"))
                let noCalls = try await ask("calls by outcome")
                #expect(noCalls.status == .serviceUnavailable && noCalls.text.contains("sync"), "no call log mirrored yet: \(noCalls.text)")
                let table = try await client.send(
                    .post, "/api/v1/tenants/alpha/charts/ask", token: token, json: #"{"question":"deals by stage","chart_type":"table"}"#)
                #expect((table.object["chart"] as? [String: Any])?["type"] as? String == "table")
                let badType = try await client.send(.post, "/api/v1/tenants/alpha/charts/ask", token: token, json: #"{"question":"deals by stage","chart_type":"radar"}"#)
                #expect(badType.status == .badRequest && badType.errorField == "chart_type")
            }
        }
    }
}
