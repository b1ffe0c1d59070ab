import Foundation
import Storage
import SwitchboardCore

/// A public question set with expected results, scored by execution match: a question counts as answered
/// when the planner's result holds the same rows as the expected SQL's (values compared, column names
/// not; numbers to two decimals; row order only where the case says it matters). `switchboard ask --eval`.
public struct EvalSet: Sendable, Codable {
    public var description: String?
    public var questions: [EvalCase]
}

/// One question of an ``EvalSet``.
public struct EvalCase: Sendable, Codable {
    public var question: String
    /// The SQL whose result is right: one string for both dialects, or `{"sqlite": …, "postgres": …}`.
    public var expectedSQL: ExpectedSQL
    /// The chart type a good answer draws, when it matters.
    public var expectedChart: String?
    /// Whether row order is part of the answer (time series, funnels).
    public var ordered: Bool?

    public init(question: String, expectedSQL: ExpectedSQL, expectedChart: String? = nil, ordered: Bool? = nil) {
        self.question = question
        self.expectedSQL = expectedSQL
        self.expectedChart = expectedChart
        self.ordered = ordered
    }

    enum CodingKeys: String, CodingKey {
        case question, ordered
        case expectedSQL = "expected_sql", expectedChart = "expected_chart"
    }

    public enum ExpectedSQL: Sendable, Codable {
        case both(String)
        case perDialect(sqlite: String, postgres: String)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self = .both(text); return }
            let pair = try container.decode([String: String].self)
            guard let sqlite = pair["sqlite"], let postgres = pair["postgres"] else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected_sql needs sqlite and postgres")
            }
            self = .perDialect(sqlite: sqlite, postgres: postgres)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .both(let text): try container.encode(text)
            case .perDialect(let sqlite, let postgres): try container.encode(["sqlite": sqlite, "postgres": postgres])
            }
        }

        public func sql(postgres: Bool) -> String {
            switch self {
            case .both(let text): text
            case .perDialect(let sqlite, let other): postgres ? other : sqlite
            }
        }
    }
}

/// How a question set went.
public struct EvalReport: Sendable, Codable {
    public struct Item: Sendable, Codable {
        public var question: String
        public var matched: Bool
        public var chartMatched: Bool
        public var planner: String?
        public var chart: String?
        public var problem: String?
        public var elapsedMilliseconds: Int

        enum CodingKeys: String, CodingKey {
            case question, matched, planner, chart, problem
            case chartMatched = "chart_matched", elapsedMilliseconds = "elapsed_ms"
        }
    }

    public var total: Int
    public var matched: Int
    public var chartsMatched: Int
    public var items: [Item]
    /// Share of questions answered with the expected result (0…1).
    public var score: Double { total == 0 ? 0 : Double(matched) / Double(total) }

    enum CodingKeys: String, CodingKey { case total, matched, items, score; case chartsMatched = "charts_matched" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(total, forKey: .total)
        try container.encode(matched, forKey: .matched)
        try container.encode(chartsMatched, forKey: .chartsMatched)
        try container.encode(score, forKey: .score)
        try container.encode(items, forKey: .items)
    }

    public init(total: Int, matched: Int, chartsMatched: Int, items: [Item]) {
        self.total = total
        self.matched = matched
        self.chartsMatched = chartsMatched
        self.items = items
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        total = try container.decode(Int.self, forKey: .total)
        matched = try container.decode(Int.self, forKey: .matched)
        chartsMatched = try container.decode(Int.self, forKey: .chartsMatched)
        items = try container.decode([Item].self, forKey: .items)
    }
}

public enum AnalyticsEval {
    /// Asks every question through `ask` and runs every expected SQL through `run` (both over the same mirror).
    public static func run(
        _ set: EvalSet, postgres: Bool,
        ask: @Sendable (String) async throws -> (planner: String, chart: String, columns: [String], rows: [[JSONValue]]),
        run: @Sendable (String) async throws -> [[JSONValue]]
    ) async -> EvalReport {
        var items: [EvalReport.Item] = []
        for item in set.questions {
            let started = ContinuousClock.now
            var entry = EvalReport.Item(question: item.question, matched: false, chartMatched: false, elapsedMilliseconds: 0)
            do {
                let answer = try await ask(item.question)
                entry.elapsedMilliseconds = (ContinuousClock.now - started).wholeMilliseconds
                entry.planner = answer.planner
                entry.chart = answer.chart
                entry.chartMatched = item.expectedChart.map { $0 == answer.chart } ?? true
                let expected = try await run(item.expectedSQL.sql(postgres: postgres))
                let ordered = item.ordered ?? false
                entry.matched = same(answer.rows, expected, ordered: ordered)
                if !entry.matched {
                    entry.problem = "got \(answer.rows.count) rows \(preview(answer.rows)), expected \(expected.count) rows \(preview(expected))"
                }
            } catch {
                entry.elapsedMilliseconds = (ContinuousClock.now - started).wholeMilliseconds
                entry.problem = (error as? SwitchboardError)?.message ?? "\(error)"
            }
            items.append(entry)
        }
        return EvalReport(total: items.count, matched: items.filter(\.matched).count, chartsMatched: items.filter { $0.matched && $0.chartMatched }.count, items: items)
    }

    /// A cell as compared: numbers to two decimals, text trimmed, empty as ∅.
    static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .null: return "∅"
        case .number(let number): return String(format: "%.2f", number)
        case .bool(let flag): return flag ? "1.00" : "0.00"
        case .string(let text):
            if let number = Double(text) { return String(format: "%.2f", number) }
            return text.trimmingCharacters(in: .whitespaces)
        default: return value.jsonText
        }
    }

    static func same(_ got: [[JSONValue]], _ expected: [[JSONValue]], ordered: Bool) -> Bool {
        let left = got.map { $0.map(canonical).joined(separator: "\u{1F}") }
        let right = expected.map { $0.map(canonical).joined(separator: "\u{1F}") }
        return ordered ? left == right : left.sorted() == right.sorted()
    }

    static func preview(_ rows: [[JSONValue]]) -> String {
        rows.prefix(3).map { "(" + $0.map(canonical).joined(separator: ", ") + ")" }.joined(separator: " ") + (rows.count > 3 ? " …" : "")
    }
}

extension ChartAsker {
    /// Runs a question set over the tenant's mirror: each question through the planner, each expected SQL
    /// behind the same guards.
    public func evaluate(_ set: EvalSet, tenant: Tenant, choice: Choice = .builtIn) async throws -> EvalReport {
        let external = try await integrations.find(tenantID: tenant.id, kind: .postgres)?.enabled == true
        let postgres = external || database.backend == .postgres
        return await AnalyticsEval.run(set, postgres: postgres) { question in
            let outcome = try await ask(question, tenant: tenant, choice: choice)
            return (outcome.planner, outcome.plan.chart.type.rawValue, outcome.result.columns, outcome.result.rows)
        } run: { sql in
            try await MirrorQuery.run(sql, tenantID: tenant.id, main: database, integrations: integrations, rowLimit: 50_000, logger: logger).rows
        }
    }
}
