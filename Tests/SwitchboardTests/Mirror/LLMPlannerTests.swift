@testable import Analytics
import Foundation
import HummingbirdTesting
import Sandbox
import Server
import SwitchboardCore
import Testing

/// The LLM planner against the Sandbox's OpenAI-compatible fake: a good answer is run behind the guard
/// and charted; wrong SQL, a DML attempt and broken JSON get one repair round each; a model that stays
/// broken, times out, refuses or is unreachable leaves the question to the built-in planner (or, when the
/// LLM was asked for by name, fails plainly); tokens are counted per tenant; saved examples reach the prompt.
@Suite("LLM question planner")
struct LLMPlannerTests {
    static func reply(sql: String, type: String = "hbar", x: String? = "stage", y: String = "deals", cannot: String? = nil) -> String {
        let chart: JSONValue = [
            "type": .string(type), "x": x.map(JSONValue.string) ?? .null, "y": .string(y), "series": nil, "compare": nil, "format": nil,
            "title": "Сделки по этапам", "subtitle": nil,
        ]
        return JSONValue.object([
            "sql": .string(sql), "chart": chart, "title": "Сделки по этапам", "explanation": "Считаем живые сделки по этапу.",
            "cannot_answer": cannot.map(JSONValue.string) ?? .null,
        ]).jsonText
    }

    static let good = "SELECT status_id_label AS stage, COUNT(*) AS deals FROM amocrm_leads WHERE deleted_at IS NULL GROUP BY status_id_label ORDER BY 2 DESC"

    @Test("happy path, repairs, broken output, timeouts, refusals, fallbacks, usage and few-shot examples", arguments: TestBackend.all)
    func planner(backend: TestBackend) async throws {
        let emulator = AmoCRMEmulator(leads: 150, contacts: 20, seed: 11, perSecond: 1000)
        let llm = FakeLLM()
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await SandboxServer.withLLM(llm) { llmBase in
                let settings = ServerSettings(bcryptCost: 4, llm: LLMSettings(baseURL: llmBase, apiKey: "sk-sandbox", timeout: .seconds(1), retries: 1))
                try await TestSupport.withApp(backend, settings: settings) { client, world in
                    let token = world.tenantA.apiTokenPlaintext
                    try await AmoCRMMirrorTests.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                    for entity in ["lead", "status", "pipeline", "user"] { try await AmoCRMMirrorTests.sync(client, world, token: token, entity: entity) }
                    func ask(_ question: String, planner: String = "auto", chartType: String? = nil) async throws -> TestResponse {
                        var body: [String: JSONValue] = ["question": .string(question), "planner": .string(planner)]
                        if let chartType { body["chart_type"] = .string(chartType) }
                        return try await client.send(.post, "/api/v1/tenants/alpha/charts/ask", token: token, json: JSONValue.object(body).jsonText)
                    }
                    func rows(_ answer: TestResponse) -> [[Any]] { ((answer.object["data"] as? [String: Any])?["rows"] as? [[Any]]) ?? [] }
                    func total(_ answer: TestResponse) -> Double { rows(answer).compactMap { ($0.last as? NSNumber)?.doubleValue }.reduce(0, +) }
                    func chartType(_ answer: TestResponse) -> String? { (answer.object["chart"] as? [String: Any])?["type"] as? String }

                    // Happy path: the model's SQL runs behind the guard; the prompt carries the schema, the dictionary and the dialect.
                    await llm.enqueue(.content(Self.reply(sql: Self.good)))
                    let happy = try await ask("Сколько сделок на каждом этапе?")
                    #expect(happy.status == .ok && happy.object["planner"] as? String == "llm" && chartType(happy) == "hbar", "\(happy.text)")
                    #expect(total(happy) == 150 && (happy.object["usage"] as? [String: Any])?["requests"] as? Int == 1)
                    let first = try #require(await llm.requests.last)
                    let system = first.messages.first?.content ?? ""
                    #expect(system.contains("amocrm_leads") && system.contains(backend == .postgres ? "PostgreSQL" : "SQLite") && system.contains("cannot_answer"))
                    #expect(first.question == "Сколько сделок на каждом этапе?" && first.model == "gpt-4o-mini")
                    #expect(first.responseFormat?.objectValue?["json_schema"]?.objectValue?["strict"] == .bool(true))

                    // Wrong SQL, then a DELETE the guard refuses: one repair round each, quoting the error.
                    await llm.enqueue(.content(Self.reply(sql: "SELECT no_such_column AS stage, 1 AS deals FROM amocrm_leads")), .content(Self.reply(sql: Self.good)))
                    let repaired = try await ask("deals per stage")
                    #expect(repaired.status == .ok && total(repaired) == 150 && (repaired.object["repairs"] as? [String])?.first?.hasPrefix("sql:") == true, "\(repaired.text)")
                    #expect(await llm.requests.last?.question.contains("The SQL failed") == true)
                    await llm.enqueue(.content(Self.reply(sql: "DELETE FROM amocrm_leads")), .content(Self.reply(sql: Self.good)))
                    let guarded = try await ask("deals per stage")
                    #expect(guarded.status == .ok && total(guarded) == 150, "\(guarded.text)")
                    let live = try await client.send(.post, "/api/v1/tenants/alpha/query", token: token, json: #"{"sql":"SELECT COUNT(*) AS n FROM amocrm_leads"}"#)
                    #expect(((live.object["rows"] as? [[Any]])?.first?.first as? NSNumber)?.intValue == 150, "nothing was deleted")
                    // Wrong SQL twice with the LLM asked by name: the database's error, not a guess.
                    await llm.enqueue(.content(Self.reply(sql: "SELECT nope FROM amocrm_leads")), .content(Self.reply(sql: "SELECT nope2 FROM amocrm_leads")))
                    let stillWrong = try await ask("deals per stage", planner: "llm")
                    #expect(stillWrong.status.code >= 400 && stillWrong.status.code < 600 && stillWrong.status != .internalServerError, "\(stillWrong.text)")

                    // Broken JSON once: repaired. Twice: the built-in planner answers and says why.
                    await llm.enqueue(.content("Конечно! Вот ответ: ```json\n{\"sql\": \"SELECT"), .content("```json\n" + Self.reply(sql: Self.good) + "\n```"))
                    let fenced = try await ask("Сделки по этапам")
                    #expect(fenced.status == .ok && fenced.object["planner"] as? String == "llm" && (fenced.object["repairs"] as? [String])?.first?.hasPrefix("format:") == true, "\(fenced.text)")
                    await llm.enqueue(.content("not json"), .content("{\"sql\": 42}"))
                    let fallback = try await ask("Сколько сделок по стадиям?")
                    #expect(fallback.status == .ok && fallback.object["planner"] as? String == "built-in" && total(fallback) == 150, "\(fallback.text)")
                    #expect((fallback.object["fallback_reason"] as? String)?.contains("unusable twice") == true)
                    await llm.enqueue(.content("not json"), .content("still not json"))
                    let strict = try await ask("Сколько сделок по стадиям?", planner: "llm")
                    #expect(strict.status == .serviceUnavailable && strict.errorCode == "llm_bad_output", "\(strict.text)")

                    // A model slower than the timeout (asked twice: one retry), a refusal, a server error then success.
                    await llm.enqueue(.delayed(.seconds(3), .content(Self.reply(sql: Self.good))), .delayed(.seconds(3), .content(Self.reply(sql: Self.good))))
                    let started = ContinuousClock.now
                    let slow = try await ask("Сколько сделок по стадиям?")
                    #expect(ContinuousClock.now - started < .seconds(15))
                    #expect(slow.status == .ok && slow.object["planner"] as? String == "built-in" && (slow.object["fallback_reason"] as? String)?.contains("did not answer") == true, "\(slow.text)")
                    await llm.enqueue(.refusal("I can't help with that."))
                    let refused = try await ask("Сколько сделок по стадиям?", planner: "llm")
                    #expect(refused.status == .serviceUnavailable && refused.errorCode == "llm_refused")
                    await llm.enqueue(.error(status: 500, message: "The server had an error"), .content(Self.reply(sql: Self.good)))
                    let retried = try await ask("Сколько сделок по стадиям?", planner: "llm")
                    #expect(retried.status == .ok && total(retried) == 150, "\(retried.text)")

                    // The model says the data cannot answer; a chart that does not fit the result is replaced.
                    await llm.enqueue(.content(Self.reply(sql: "", cannot: "В данных нет погоды.")))
                    let cannot = try await ask("Какая погода в Москве?", planner: "llm")
                    #expect(cannot.errorCode == "cannot_answer" && cannot.text.contains("нет погоды"))
                    await llm.enqueue(.content(Self.reply(sql: Self.good, type: "bar", y: "missing_column")))
                    let refit = try await ask("Сделки по этапам")
                    #expect(refit.status == .ok && chartType(refit) == "bar" && (refit.object["chart"] as? [String: Any])?["y"] as? String == "deals", "\(refit.text)")

                    // Tokens per tenant.
                    let usage = try await client.send(.get, "/api/v1/tenants/alpha/llm/usage", token: token)
                    let totals = usage.object["total"] as? [String: Any]
                    #expect(usage.object["configured"] as? Bool == true && usage.object["model"] as? String == "gpt-4o-mini")
                    #expect(((totals?["requests"] as? Int) ?? 0) >= 14 && ((totals?["prompt_tokens"] as? Int) ?? 0) > 1000 && ((totals?["failures"] as? Int) ?? 0) >= 4, "\(usage.text)")
                    let other = try await client.send(.get, "/api/v1/tenants/bravo/llm/usage", token: world.tenantB.apiTokenPlaintext)
                    #expect(((other.object["total"] as? [String: Any])?["requests"] as? Int) == 0)

                    // Few-shot examples: checked against the mirror, then part of the next prompt.
                    let bad = try await client.send(.post, "/api/v1/tenants/alpha/chart-examples", token: token, json: #"{"question":"выручка","sql":"DROP TABLE amocrm_leads"}"#)
                    #expect(bad.status == .badRequest && bad.errorField == "sql")
                    let saved = try await client.send(
                        .post, "/api/v1/tenants/alpha/chart-examples", token: token, json: JSONValue.object(["question": "Выручка по этапам", "sql": .string(Self.good)]).jsonText)
                    #expect(saved.status == .created, "\(saved.text)")
                    await llm.enqueue(.content(Self.reply(sql: Self.good)))
                    _ = try await ask("Выручка по этапам сделок")
                    #expect(await llm.requests.last?.messages.first?.content.contains("Q: Выручка по этапам") == true)
                    let fromChart = try await client.send(.post, "/api/v1/tenants/alpha/chart-examples", token: token, json: #"{"chart_id":"\#(happy.object["id"] as? String ?? "")"}"#)
                    #expect(fromChart.status == .created && fromChart.object["question"] as? String == "Сколько сделок на каждом этапе?")
                    let listed = try await client.send(.get, "/api/v1/tenants/alpha/chart-examples", token: token)
                    #expect((listed.object["examples"] as? [Any])?.count == 2)
                    let removed = try await client.send(.delete, "/api/v1/tenants/alpha/chart-examples/\(saved.object["id"] as? String ?? "")", token: token)
                    #expect(removed.status == .noContent)
                    let foreign = try await client.send(.get, "/api/v1/tenants/bravo/chart-examples", token: world.tenantB.apiTokenPlaintext)
                    #expect((foreign.object["examples"] as? [Any])?.isEmpty == true)
                }
            }
        }
    }

    @Test("a wrong API key is reported, not retried; the built-in planner answers under auto")
    func wrongKey() async throws {
        let emulator = AmoCRMEmulator(leads: 10, contacts: 2, seed: 3, perSecond: 1000)
        let llm = FakeLLM(apiKey: "sk-right")
        try await SandboxServer.withAmoCRM(emulator) { base in
            try await SandboxServer.withLLM(llm) { llmBase in
                let settings = ServerSettings(bcryptCost: 4, llm: LLMSettings(baseURL: llmBase, apiKey: "sk-wrong", timeout: .seconds(2), retries: 2))
                try await TestSupport.withApp(.sqlite, settings: settings) { client, world in
                    let token = world.tenantA.apiTokenPlaintext
                    try await AmoCRMMirrorTests.connect(client, token: token, base: base, emulator: emulator, longLived: true)
                    try await AmoCRMMirrorTests.sync(client, world, token: token, entity: "lead")
                    let named = try await client.send(.post, "/api/v1/tenants/alpha/charts/ask", token: token, json: #"{"question":"сколько сделок","planner":"llm"}"#)
                    #expect(named.status == .serviceUnavailable && named.errorCode == "llm_refused" && named.text.contains("401"), "\(named.text)")
                    #expect(await llm.requests.isEmpty, "a refused key is not retried (and the fake records only authorised requests)")
                    let auto = try await client.send(.post, "/api/v1/tenants/alpha/charts/ask", token: token, json: #"{"question":"сколько сделок"}"#)
                    #expect(auto.status == .ok && auto.object["planner"] as? String == "built-in")
                }
            }
        }
    }

    @Test("settings come from OPENAI_* and bad values name the variable")
    func settings() throws {
        #expect(try LLMSettings.fromEnvironment([:]) == nil)
        let set = try #require(try LLMSettings.fromEnvironment(["OPENAI_API_KEY": "sk-1", "OPENAI_MODEL": "gpt-4.1-mini", "OPENAI_BASE_URL": "http://127.0.0.1:11434/v1/"]))
        #expect(set.baseURL == "http://127.0.0.1:11434/v1" && set.model == "gpt-4.1-mini" && set.structured == .strict)
        #expect(throws: SwitchboardError.invalid("OPENAI_BASE_URL", "give an http(s) URL such as https://api.openai.com/v1")) {
            try LLMSettings.fromEnvironment(["OPENAI_BASE_URL": "ftp://x"])
        }
        #expect(throws: SwitchboardError.self) { try LLMSettings.fromEnvironment(["OPENAI_API_KEY": "k", "OPENAI_STRUCTURED_OUTPUT": "maybe"]) }
    }

    @Test("the prompt picks the tables a question is about, with the tables they join to")
    func relevantTables() {
        func table(_ name: String, _ entity: String, _ ru: String, _ en: String, references: String? = nil) -> DataDictionary.Table {
            let column = DataDictionary.Column(
                name: references == nil ? "name" : "responsible_user_id", sqlType: "TEXT", crmField: "X", labelRU: "Поле", labelEN: nil, role: "field", crmType: "string",
                enumValues: [], key: references == nil ? nil : "foreign", references: references, nullRatio: 0, examples: [], active: true)
            return DataDictionary.Table(name: name, crm: "amocrm", entity: entity, labelRU: ru, labelEN: en, rows: 1, deletedRows: 0, columns: [column], joins: [])
        }
        let dictionary = DataDictionary(generatedAt: Date(), dialect: "sqlite", tables: [
            table("amocrm_leads", "lead", "Сделки", "Deals", references: "amocrm_users.id"), table("amocrm_users", "user", "Пользователи", "Users"),
            table("amocrm_companies", "company", "Компании", "Companies"), table("switchboard_calls", "call", "Звонки", "Calls"),
        ])
        #expect(LLMPrompt.relevant("Сумма сделок по менеджерам", dictionary: dictionary).tables.map(\.name).sorted() == ["amocrm_leads", "amocrm_users"])
        #expect(LLMPrompt.relevant("missed calls by day", dictionary: dictionary).tables.map(\.name) == ["switchboard_calls"])
        #expect(LLMPrompt.relevant("что-нибудь интересное", dictionary: dictionary).tables.count == 4)
    }
}
