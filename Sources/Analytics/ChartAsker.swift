import Foundation
import Logging
import Mirror
import Storage
import SwitchboardCore

/// Question → chart for one tenant, the way the API, the CLI and the benchmark all ask: the LLM planner
/// when one is configured (falling back to the built-in planner when the model is unreachable, breaks its
/// format twice or cannot answer), the built-in planner otherwise; the SQL always runs behind
/// ``MirrorQuery``'s guards and the chart is validated against the result (or replaced by one that fits).
/// Every model call's tokens are added to the tenant's usage.
public struct ChartAsker: Sendable {
    /// Which planner answers.
    public enum Choice: String, Sendable, CaseIterable {
        /// The LLM when configured, the built-in planner as fallback.
        case auto
        case llm
        case builtIn = "built-in"
    }

    /// An answered question.
    public struct Outcome: Sendable {
        public var plan: PlannedQuestion
        public var result: QueryResult
        /// `llm` or `built-in`.
        public var planner: String
        public var usage: LLMUsage?
        public var repairs: [String]
        /// Why the LLM's answer was not used, when the built-in planner stepped in.
        public var fallback: String?

        /// `{columns, rows, truncated}`, as charts store it.
        public var data: JSONValue {
            ["columns": .array(result.columns.map(JSONValue.string)), "rows": .array(result.rows.map(JSONValue.array)), "truncated": .bool(result.truncated)]
        }
    }

    public let database: Database
    public let integrations: IntegrationRepository
    public let llm: LLMClient?
    public let logger: Logger
    public var rowLimit = 1000

    public init(database: Database, integrations: IntegrationRepository, llm: LLMClient?, logger: Logger) {
        self.database = database
        self.integrations = integrations
        self.llm = llm
        self.logger = logger
    }

    public func ask(
        _ question: String, tenant: Tenant, chartType: ChartSpec.Kind? = nil, choice: Choice = .auto, now: Date = Date()
    ) async throws -> Outcome {
        let timeZone = TimeZone(identifier: tenant.timeZone) ?? .gmt
        let wantsModel = choice != .builtIn && llm != nil
        if choice == .llm, llm == nil {
            throw SwitchboardError(
                .unavailable, code: "llm_not_configured", message: "no language model is configured: set OPENAI_BASE_URL and/or OPENAI_API_KEY", field: "planner")
        }
        let dictionary = try await MirrorDatabase.with(tenantID: tenant.id, main: database, integrations: integrations) { mirror in
            // The model reads examples and empty ratios; the built-in planner needs only the catalog.
            try await DataDictionary.build(mirror, statistics: wantsModel)
        }
        let run: @Sendable (String) async throws -> QueryResult = { [database, integrations, rowLimit, logger] sql in
            try await MirrorQuery.run(sql, tenantID: tenant.id, main: database, integrations: integrations, rowLimit: rowLimit, logger: logger)
        }
        var fallback: String?
        if wantsModel, let llm {
            let usageStore = AnalyticsRepository(database)
            let model = llm.settings.model
            do {
                let examples = try await usageStore.examples(tenantID: tenant.id).map { ChartExample(question: $0.question, sql: $0.sql) }
                let answer = try await LLMPlanner(client: llm).answer(
                    question, chartType: chartType, dictionary: dictionary, examples: examples, now: now, timeZone: timeZone,
                    onUsage: { used in
                        try? await usageStore.recordUsage(
                            tenantID: tenant.id, model: model, requests: used.requests, promptTokens: used.promptTokens,
                            completionTokens: used.completionTokens, failed: false)
                    }, run: run)
                return Outcome(plan: answer.plan, result: answer.result, planner: "llm", usage: answer.usage, repairs: answer.repairs, fallback: nil)
            } catch let error as SwitchboardError {
                try? await usageStore.recordUsage(tenantID: tenant.id, model: model, requests: 0, promptTokens: 0, completionTokens: 0, failed: true)
                logger.warning("llm planner failed", metadata: ["tenant": "\(tenant.id)", "code": "\(error.code)", "error": "\(error.message)"])
                if choice == .llm { throw error }
                fallback = error.message
            }
        }
        var plan: PlannedQuestion
        do {
            plan = try OfflinePlanner.plan(question, dictionary: dictionary, now: now, timeZone: timeZone)
        } catch {
            guard let fallback else { throw error }
            throw SwitchboardError(
                .unavailable, code: "cannot_answer", message: "the language model failed (\(fallback)) and the built-in planner cannot answer: \(error.message)",
                field: "question")
        }
        if let chartType { plan.chart.type = chartType }
        let result = try await run(plan.sql)
        let (fitted, problem) = plan.chart.fitted(columns: result.columns, rows: result.rows)
        plan.chart = fitted
        let repairs = problem.map { ["chart: \($0)"] } ?? []
        return Outcome(plan: plan, result: result, planner: "built-in", usage: nil, repairs: repairs, fallback: fallback)
    }

    /// Asks and keeps the chart (`GET …/charts/{id}.svg` and the dashboards read it).
    public func askAndSave(
        _ question: String, tenant: Tenant, chartType: ChartSpec.Kind? = nil, choice: Choice = .auto, now: Date = Date()
    ) async throws -> (StoredChart, Outcome) {
        let outcome = try await ask(question, tenant: tenant, chartType: chartType, choice: choice, now: now)
        let chart = StoredChart(
            id: Identifiers.newID(), tenantID: tenant.id, question: question, title: outcome.plan.title, sql: outcome.plan.sql,
            spec: try JSONValue(encoding: outcome.plan.chart), result: outcome.data, planner: outcome.planner, createdAt: .storageNow)
        try await ChartRepository(database).save(chart)
        return (chart, outcome)
    }

    /// Runs a saved chart's SQL again and stores the new result (or why it failed, keeping the old one).
    public func refresh(_ chart: StoredChart, now: Date = .storageNow) async -> StoredChart {
        var updated = chart
        do {
            let result = try await MirrorQuery.run(chart.sql, tenantID: chart.tenantID, main: database, integrations: integrations, rowLimit: rowLimit, logger: logger)
            updated.result = ["columns": .array(result.columns.map(JSONValue.string)), "rows": .array(result.rows.map(JSONValue.array)), "truncated": .bool(result.truncated)]
            updated.refreshError = nil
            try await ChartRepository(database).refreshed(tenantID: chart.tenantID, id: chart.id, result: updated.result, error: nil, at: now)
        } catch {
            updated.refreshError = (error as? SwitchboardError)?.message ?? "\(error)"
            try? await ChartRepository(database).refreshed(tenantID: chart.tenantID, id: chart.id, result: nil, error: updated.refreshError, at: now)
        }
        updated.refreshedAt = now
        return updated
    }
}
