import Foundation
import SwitchboardCore

/// A question and the SQL that answered it well, saved by the tenant: the planner's few-shot examples.
public struct ChartExample: Sendable, Equatable, Codable {
    public var question: String
    public var sql: String

    public init(question: String, sql: String) {
        self.question = question
        self.sql = sql
    }
}

/// What the language model is told: the rules, the answer's JSON schema, the part of the data dictionary
/// the question is about (tables picked by matching the question to labels, plus the tables they join to),
/// the dialect and the tenant's saved examples.
public enum LLMPrompt {
    /// The strict JSON schema of an answer (OpenAI strict rules: every key required, optional = nullable,
    /// no additional properties).
    public static let answerSchema: JSONValue = {
        func nullable(_ type: String) -> JSONValue { ["type": .array([.string(type), "null"])] }
        let chart: JSONValue = [
            "type": "object", "additionalProperties": false,
            "required": ["type", "x", "y", "series", "compare", "format", "title", "subtitle"],
            "properties": [
                "type": ["type": "string", "enum": .array(ChartSpec.Kind.allCases.map { .string($0.rawValue) })],
                "x": nullable("string"), "y": ["type": "string"], "series": nullable("string"), "compare": nullable("string"),
                "format": ["type": ["string", "null"], "enum": .array(ChartSpec.ValueFormat.allCases.map { .string($0.rawValue) } + [.null])],
                "title": ["type": "string"], "subtitle": nullable("string"),
            ],
        ]
        return [
            "type": "object", "additionalProperties": false, "required": ["sql", "chart", "title", "explanation", "cannot_answer"],
            "properties": [
                "sql": ["type": "string"], "chart": chart, "title": ["type": "string"], "explanation": ["type": "string"],
                "cannot_answer": nullable("string"),
            ],
        ]
    }()

    /// The system and user messages for `question`.
    public static func messages(
        question: String, chartType: ChartSpec.Kind?, dictionary: DataDictionary, examples: [ChartExample], now: Date, timeZone: TimeZone
    ) -> [LLMMessage] {
        let postgres = dictionary.dialect == "postgres"
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let today = calendar.dateComponents([.year, .month, .day], from: now)
        let date = String(format: "%04d-%02d-%02d", today.year ?? 0, today.month ?? 0, today.day ?? 0)
        var system = """
            You turn a question about a company's CRM data into ONE read-only SQL query and a chart of its result.
            Reply with one JSON object only, no prose around it, matching this JSON schema:
            \(answerSchema.jsonText)

            Rules:
            - SQL dialect: \(postgres ? "PostgreSQL 15" : "SQLite 3"). Exactly one SELECT (a WITH … SELECT is fine). No other statements, no comments, no semicolons.
            - Use only the tables and columns listed below. Rows with `deleted_at` set were deleted in the CRM: add `deleted_at IS NULL` for every table that has it.
            - \(postgres ? "Timestamps are `timestamptz`; use date_trunc and intervals." : "Timestamps are UTC text 'YYYY-MM-DD HH:MM:SS'; use date(), strftime() and datetime('now', '-3 months').")
            - The company's time zone is \(timeZone.identifier); today is \(date). Weeks start on Monday. "Last N months" means the current month and N−1 before it.
            - Give every output column a snake_case alias; chart.x, chart.y, chart.series and chart.compare name those aliases. chart.y must be numeric.
            - Prefer human labels (`*_label` columns, joined names) over raw ids in the output. Order categories sensibly (largest first, or by time).
            - Do not output customers' phone numbers, e-mails or names unless the question asks for them.
            - Chart types: bar, hbar (long category names), grouped_bar and stacked_bar (x + series + y), line and area (x is time), pie or donut (≤ 8 parts of a whole), funnel (ordered stages), scatter (numeric x and y), kpi (one row; compare = the previous period's value), table, heatmap (x + series + y, e.g. weekday × hour).
            - title, explanation and chart.title are in the language of the question. explanation says in one or two sentences what was counted and how.
            - If the data cannot answer the question, set sql to "" and cannot_answer to the reason, in the question's language.

            Data dictionary (the part about this question):

            """
        system += relevant(question, dictionary: dictionary).markdown
        let chosen = fewShot(question, examples: examples)
        if !chosen.isEmpty {
            system += "\nQuestions this company asked before, with SQL that answered them well:\n"
            for example in chosen { system += "\nQ: \(example.question)\nSQL: \(example.sql)\n" }
        }
        var user = question
        if let chartType { user += "\n(Draw it as a \(chartType.rawValue) chart.)" }
        return [LLMMessage(role: "system", content: system), LLMMessage(role: "user", content: user)]
    }

    /// Word stems of a text (a crude stemmer that serves Russian and English alike: the first 4 letters).
    static func stems(_ text: String) -> Set<String> {
        let words = text.lowercased().replacingOccurrences(of: "ё", with: "е").split(whereSeparator: { !$0.isLetter && !$0.isNumber })
        return Set(words.filter { $0.count >= 3 }.map { String($0.prefix(4)) })
    }

    /// The tables the question is about — those whose names or labels share a stem with it — and the tables
    /// they join to; the whole dictionary when nothing matches. At most 8 tables.
    public static func relevant(_ question: String, dictionary: DataDictionary) -> DataDictionary {
        let asked = stems(question).union(synonyms(question))
        let scored = dictionary.tables.map { table -> (DataDictionary.Table, Int) in
            let words = stems([table.name, table.entity, table.labelRU, table.labelEN].joined(separator: " "))
            let columns = stems(table.columns.map { "\($0.labelRU) \($0.labelEN ?? "")" }.joined(separator: " "))
            return (table, asked.intersection(words).count * 3 + asked.intersection(columns).count)
        }
        let matching = scored.filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }.map(\.0)
        guard !matching.isEmpty else {
            var whole = dictionary
            whole.tables = Array(dictionary.tables.sorted { $0.rows > $1.rows }.prefix(8))
            return whole
        }
        var names = matching.prefix(5).map(\.name)
        for table in matching.prefix(5) {
            for target in table.columns.compactMap({ $0.references?.split(separator: ".").first.map(String.init) }) where !names.contains(target) {
                names.append(target)
            }
        }
        var subset = dictionary
        subset.tables = dictionary.tables.filter { names.prefix(8).contains($0.name) }
        return subset
    }

    /// Entity words the question may use for a table's entity (a sale is a deal, a customer a contact).
    static func synonyms(_ question: String) -> Set<String> {
        let text = question.lowercased()
        var out: Set<String> = []
        let map: [(String, [String])] = [
            // amoCRM calls its deals leads: deal words point at both.
            ("deal", ["сдел", "продаж", "sale", "выручк", "revenue", "воронк", "pipeline", "funnel"]),
            ("lead", ["лид", "заявк", "сдел", "продаж", "sale", "выручк", "revenue"]),
            ("call", ["звон", "вызов", "пропущ", "missed"]), ("contact", ["клиент", "customer", "контакт"]), ("company", ["компан", "организац"]),
            ("user", ["менеджер", "сотрудник", "manager", "ответств"]),
        ]
        for (entity, words) in map where words.contains(where: text.contains) { out.insert(String(entity.prefix(4))) }
        return out
    }

    /// Up to three saved examples sharing the most stems with the question.
    static func fewShot(_ question: String, examples: [ChartExample]) -> [ChartExample] {
        let asked = stems(question)
        return examples.map { ($0, asked.intersection(stems($0.question)).count) }
            .filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }.prefix(3).map(\.0)
    }
}
