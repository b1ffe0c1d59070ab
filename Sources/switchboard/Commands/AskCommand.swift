import Analytics
import ArgumentParser
import Foundation
import Mirror
import Storage
import SwitchboardCore

/// `switchboard ask TENANT "вопрос"`: a question about a tenant's mirror answered as a chart — drawn in the
/// terminal, or written as SVG, PNG, CSV, JSON, Markdown or Vega-Lite. `--eval FILE` scores a question set
/// by execution match instead.
struct AskCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask", abstract: "Ask a question about a tenant's CRM mirror and get a chart (or score a question set with --eval).")
    @Argument(help: "Tenant slug or id.") var tenant: String
    @Argument(help: "The question, in Russian or English.") var question: String?
    @Option(help: "text (terminal), svg, png, csv, json, md or vl.json.") var format = "text"
    @Option(help: "Write the chart to this file instead of standard output.") var out: String?
    @Option(name: .customLong("chart-type"), help: "Draw it as this chart type.") var chartType: String?
    @Option(help: "auto (the LLM when OPENAI_* is set, else built-in), llm or built-in.") var planner = "auto"
    @Option(help: "light or dark (svg, png).") var theme = "light"
    @Option(help: "ru or en: numbers and labels.") var lang = "ru"
    @Option(help: "Score the questions of this JSON file (see eval/questions-amocrm.json) by execution match.") var eval: String?
    @Option(name: .customLong("min-score"), help: "With --eval: exit with an error below this share of matched questions (0–1).") var minScore = 0.0
    @Flag(help: "Keep the chart (it gets an id and links, like POST …/charts/ask).") var save = false
    @OptionGroup var storage: StorageOptions

    func validate() throws {
        guard ["text", "svg", "png", "csv", "json", "md", "vl.json"].contains(format) else {
            throw ValidationError("--format must be text, svg, png, csv, json, md or vl.json")
        }
        guard ChartAsker.Choice(rawValue: planner) != nil else { throw ValidationError("--planner must be auto, llm or built-in") }
        if let chartType, ChartSpec.Kind(rawValue: chartType) == nil {
            throw ValidationError("--chart-type must be one of \(ChartSpec.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard ["light", "dark"].contains(theme), ["ru", "en"].contains(lang) else { throw ValidationError("--theme is light or dark, --lang ru or en") }
        guard (0...1).contains(minScore) else { throw ValidationError("--min-score must be 0–1") }
        if eval == nil, (question ?? "").trimmingCharacters(in: .whitespaces).count < 3 { throw ValidationError("ask a question (3–500 characters) or give --eval FILE") }
    }

    func run() async throws {
        let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
        let (key, question, eval) = (tenant, question ?? "", eval)
        let choice = ChartAsker.Choice(rawValue: planner) ?? .auto
        let kind = chartType.flatMap(ChartSpec.Kind.init(rawValue:))
        let llm = runtime.llm
        if let eval {
            guard let data = FileManager.default.contents(atPath: eval) else { throw ValidationError("cannot read \(eval)") }
            let set: EvalSet
            do { set = try JSONDecoder().decode(EvalSet.self, from: data) } catch { throw ValidationError("\(eval) is not a question set: \(error)") }
            let report = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                let tenant = try await stores.tenants.require(key)
                let asker = ChartAsker(database: database, integrations: stores.integrations, llm: llm.map { LLMClient(settings: $0, logger: runtime.logger) }, logger: runtime.logger)
                return try await asker.evaluate(set, tenant: tenant, choice: choice)
            }
            if format == "json" { try Output.json(report) } else { Self.print(report) }
            if report.score < minScore { throw ExitCode(1) }
            return
        }
        let save = save
        let (outcome, id) = try await runtime.withDatabase { database, secrets in
            let stores = Stores(database, secrets: secrets)
            let tenant = try await stores.tenants.require(key)
            let asker = ChartAsker(database: database, integrations: stores.integrations, llm: llm.map { LLMClient(settings: $0, logger: runtime.logger) }, logger: runtime.logger)
            if save {
                let (stored, outcome) = try await asker.askAndSave(question, tenant: tenant, chartType: kind, choice: choice)
                return (outcome, Optional(stored.id))
            }
            return (try await asker.ask(question, tenant: tenant, chartType: kind, choice: choice), String?.none)
        }
        try write(outcome, id: id)
    }

    static func print(_ report: EvalReport) {
        for item in report.items {
            let mark = item.matched ? (item.chartMatched ? "✔" : "≈") : "✘"
            Swift.print("\(mark) \(item.question)  [\(item.planner ?? "—") \(item.chart ?? "—") \(item.elapsedMilliseconds) ms]" + (item.problem.map { "\n    \($0)" } ?? ""))
        }
        Swift.print(String(format: "\n%d of %d questions answered with the expected result (%.0f %%), %d with the expected chart too.",
            report.matched, report.total, report.score * 100, report.chartsMatched))
    }

    func write(_ outcome: ChartAsker.Outcome, id: String?) throws {
        let spec = outcome.plan.chart
        let (columns, rows) = (outcome.result.columns, outcome.result.rows)
        let text: String
        switch format {
        case "svg": text = ChartRenderer.svg(spec, columns: columns, rows: rows, theme: ChartRenderer.Theme(rawValue: theme) ?? .light, locale: lang)
        case "csv": text = ChartExports.csv(columns: columns, rows: rows)
        case "md": text = ChartExports.markdown(title: outcome.plan.title, columns: columns, rows: rows)
        case "vl.json": text = ChartExports.vegaLite(spec, columns: columns, rows: rows).jsonText
        case "json":
            var object: [String: JSONValue] = [
                "title": .string(outcome.plan.title), "sql": .string(outcome.plan.sql), "chart": try JSONValue(encoding: spec), "data": outcome.data,
                "explanation": .string(outcome.plan.explanation), "planner": .string(outcome.planner),
            ]
            if let id { object["id"] = .string(id) }
            if let fallback = outcome.fallback { object["fallback_reason"] = .string(fallback) }
            text = JSONValue.object(object).jsonText
        case "png":
            let svg = ChartRenderer.svg(spec, columns: columns, rows: rows, theme: ChartRenderer.Theme(rawValue: theme) ?? .light, locale: lang)
            guard let png = try ChartExports.png(svg: svg) else { throw ValidationError("PNG needs rsvg-convert (Debian: apt-get install librsvg2-bin); SVG works without it") }
            guard let out else { throw ValidationError("PNG is binary: give --out FILE") }
            try png.write(to: URL(fileURLWithPath: out))
            return
        default:
            let width = Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 80
            text = TerminalChart.render(spec, columns: columns, rows: rows, width: width, locale: lang)
                + "\n" + outcome.plan.explanation + (outcome.fallback.map { "\n(LLM not used: \($0))" } ?? "") + (id.map { "\nchart id: \($0)" } ?? "") + "\nSQL: \(outcome.plan.sql)"
        }
        if let out { try Data(text.utf8).write(to: URL(fileURLWithPath: out)) } else { Swift.print(text) }
    }
}
