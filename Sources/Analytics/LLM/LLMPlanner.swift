import Foundation
import Logging
import SwitchboardCore

/// Planner 1: a language model writes the SQL and the chart, as data (never code we run): the answer is
/// strict JSON, checked field by field; a reply that breaks the format gets one repair round quoting the
/// problem, SQL that fails (refused by the guard or by the database) one repair round quoting the error,
/// and a chart that does not fit the result is replaced by one that does.
public struct LLMPlanner: Sendable {
    public let client: LLMClient

    public init(client: LLMClient) { self.client = client }

    /// What the model answered, run.
    public struct Answer: Sendable {
        public var plan: PlannedQuestion
        public var result: QueryResult
        public var usage: LLMUsage
        /// What had to be repaired on the way (`format: …`, `sql: …`, `chart: …`), empty when nothing.
        public var repairs: [String]
    }

    /// Asks the model, runs its SQL through `run` (the guarded mirror query) and returns the validated
    /// plan with its result. Throws `cannot_answer` when the model says the data cannot answer, and the
    /// last error when a repair round did not help.
    public func answer(
        _ question: String, chartType: ChartSpec.Kind?, dictionary: DataDictionary, examples: [ChartExample], now: Date = Date(), timeZone: TimeZone,
        onUsage: @Sendable (LLMUsage) async -> Void = { _ in }, run: @Sendable (String) async throws -> QueryResult
    ) async throws -> Answer {
        var messages = LLMPrompt.messages(question: question, chartType: chartType, dictionary: dictionary, examples: examples, now: now, timeZone: timeZone)
        var usage = LLMUsage()
        var repairs: [String] = []
        var formatRepaired = false
        var sqlRepaired = false
        while true {
            let (content, used) = try await client.complete(messages, schema: LLMPrompt.answerSchema)
            usage = usage + used
            await onUsage(used)
            let reply: Reply
            do {
                reply = try Reply.parse(content)
            } catch {
                guard !formatRepaired else {
                    throw SwitchboardError(.unavailable, code: "llm_bad_output", message: "the language model's answer was unusable twice: \(error.message)")
                }
                formatRepaired = true
                repairs.append("format: \(error.message)")
                messages += [
                    LLMMessage(role: "assistant", content: String(content.prefix(4000))),
                    LLMMessage(role: "user", content: "That reply cannot be used: \(error.message). Reply again with only the JSON object the schema describes."),
                ]
                continue
            }
            if let reason = reply.cannotAnswer, !reason.isEmpty {
                throw SwitchboardError(.unavailable, code: "cannot_answer", message: reason, field: "question")
            }
            let result: QueryResult
            do {
                result = try await run(reply.sql)
            } catch {
                let message = (error as? SwitchboardError)?.message ?? "\(error)"
                guard !sqlRepaired else { throw error }
                sqlRepaired = true
                repairs.append("sql: \(message)")
                messages += [
                    LLMMessage(role: "assistant", content: content),
                    LLMMessage(role: "user", content: "The SQL failed: \(message)\nFix the SQL and reply again with the whole JSON object."),
                ]
                continue
            }
            var chart = reply.chart
            if chart.title.isEmpty { chart.title = reply.title }
            if let chartType { chart.type = chartType }
            let (fitted, problem) = chart.fitted(columns: result.columns, rows: result.rows)
            if let problem { repairs.append("chart: \(problem)") }
            chart = fitted
            let plan = PlannedQuestion(title: reply.title, sql: reply.sql, chart: chart, explanation: reply.explanation)
            return Answer(plan: plan, result: result, usage: usage, repairs: repairs)
        }
    }

    /// The model's reply, read field by field so a problem can be named in the repair round.
    struct Reply {
        var sql: String
        var chart: ChartSpec
        var title: String
        var explanation: String
        var cannotAnswer: String?

        static func parse(_ content: String) throws(SwitchboardError) -> Reply {
            func problem(_ text: String) -> SwitchboardError { SwitchboardError(.unavailable, code: "llm_bad_output", message: text) }
            // Models outside strict mode wrap JSON in prose or ``` fences: take the outermost object.
            guard let open = content.firstIndex(of: "{"), let close = content.lastIndex(of: "}"), open < close,
                let object = JSONValue(jsonText: content[open...close])?.objectValue
            else { throw problem("it is not a JSON object") }
            func string(_ key: String, in object: [String: JSONValue], path: String = "") throws(SwitchboardError) -> String? {
                switch object[key] {
                case nil, .null?: return nil
                case .string(let text)?: return text
                default: throw problem("\(path)\(key) must be a string")
                }
            }
            let cannot = try string("cannot_answer", in: object)
            let sql = try string("sql", in: object) ?? ""
            if sql.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, cannot?.isEmpty ?? true { throw problem("sql is empty and cannot_answer gives no reason") }
            guard let chartObject = object["chart"]?.objectValue else {
                if let cannot, !cannot.isEmpty { return Reply(sql: sql, chart: ChartSpec(type: .table, x: nil, y: "", title: ""), title: "", explanation: "", cannotAnswer: cannot) }
                throw problem("chart must be an object")
            }
            guard let typeName = try string("type", in: chartObject, path: "chart."), let type = ChartSpec.Kind(rawValue: typeName) else {
                throw problem("chart.type must be one of \(ChartSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let y = try string("y", in: chartObject, path: "chart."), !y.isEmpty else { throw problem("chart.y must name the values column") }
            var format: ChartSpec.ValueFormat?
            if let name = try string("format", in: chartObject, path: "chart.") {
                guard let parsed = ChartSpec.ValueFormat(rawValue: name) else { throw problem("chart.format must be number, currency, percent or null") }
                format = parsed
            }
            let title = try string("title", in: object) ?? ""
            let chart = ChartSpec(
                type: type, x: try string("x", in: chartObject, path: "chart."), y: y,
                title: try string("title", in: chartObject, path: "chart.") ?? title,
                series: try string("series", in: chartObject, path: "chart."), compare: try string("compare", in: chartObject, path: "chart."), format: format,
                subtitle: try string("subtitle", in: chartObject, path: "chart."))
            return Reply(
                sql: sql, chart: chart, title: title.isEmpty ? chart.title : title, explanation: try string("explanation", in: object) ?? "",
                cannotAnswer: cannot)
        }
    }
}
