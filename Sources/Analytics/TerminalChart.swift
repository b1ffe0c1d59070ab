import Foundation
import SwitchboardCore

/// A chart drawn with Unicode for a terminal (`switchboard ask`): bars of block characters for categories,
/// a sparkline for time, the number (with its change) for a KPI, aligned columns for the rest.
public enum TerminalChart {
    static let eighths = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
    static let sparks = Array("▁▂▃▄▅▆▇█")

    public static func render(_ spec: ChartSpec, columns: [String], rows: [[JSONValue]], width: Int = 80, locale: String = "ru") -> String {
        var out = spec.title + "\n"
        guard !rows.isEmpty else { return out + (locale == "en" ? "No data\n" : "Нет данных\n") }
        let yIndex = columns.firstIndex(of: spec.y)
        let xIndex = spec.x.flatMap { columns.firstIndex(of: $0) }
        func value(_ row: [JSONValue], _ index: Int?) -> Double? { index.flatMap { row.indices.contains($0) ? ChartRenderer.numeric(row[$0]) : nil } }
        func label(_ row: [JSONValue], _ index: Int?) -> String { index.map { row.indices.contains($0) ? ChartRenderer.text(row[$0]) : "" } ?? "" }
        func shown(_ number: Double) -> String { ChartRenderer.formatted(number, as: spec.format, locale: locale) }
        switch spec.type {
        case .kpi:
            let current = rows.first.flatMap { value($0, yIndex) } ?? 0
            out += "  " + shown(current) + "\n"
            if let compare = spec.compare.flatMap({ columns.firstIndex(of: $0) }), let previous = rows.first.flatMap({ value($0, compare) }) {
                let change = previous == 0 ? nil : (current - previous) / abs(previous) * 100
                let arrow = current >= previous ? "▲" : "▼"
                out += "  \(arrow) " + (change.map { ChartRenderer.number(abs($0), locale: locale, digits: 1) + " %" } ?? shown(abs(current - previous)))
                out += locale == "en" ? " vs previous period\n" : " к прошлому периоду\n"
            }
        case .line, .area where spec.series == nil:
            let values = rows.map { value($0, yIndex) ?? 0 }
            let (low, high) = (values.min() ?? 0, values.max() ?? 0)
            // One spark per point, squeezed to the width by averaging neighbours.
            let buckets = max(1, min(values.count, width - 4))
            var line = ""
            for bucket in 0..<buckets {
                let slice = values[(bucket * values.count / buckets)..<max((bucket + 1) * values.count / buckets, bucket * values.count / buckets + 1)]
                let mean = slice.reduce(0, +) / Double(slice.count)
                let level = high > low ? Int(((mean - low) / (high - low) * 7).rounded()) : 3
                line.append(sparks[min(max(level, 0), 7)])
            }
            out += "  " + line + "\n"
            out += "  \(label(rows[0], xIndex)) … \(label(rows[rows.count - 1], xIndex))   min \(shown(low)) · max \(shown(high))\n"
        case .table, .heatmap, .scatter, .groupedBar, .stackedBar, .line, .area:
            let text = rows.prefix(40).map { row in row.map { ChartRenderer.numeric($0).map(shown) ?? ChartRenderer.text($0) } }
            let widths = columns.indices.map { index in ([columns[index]] + text.map { index < $0.count ? $0[index] : "" }).map(\.count).max() ?? 0 }
            for row in [columns] + text {
                out += "  " + row.enumerated().map { $1.padding(toLength: widths[min($0, widths.count - 1)], withPad: " ", startingAt: 0) }.joined(separator: "  ") + "\n"
            }
            if rows.count > 40 { out += "  … \(rows.count - 40) " + (locale == "en" ? "more\n" : "ещё\n") }
        case .bar, .hbar, .pie, .donut, .funnel:
            let shownRows = Array(rows.prefix(30))
            let labels = shownRows.map { ChartRenderer.truncate(label($0, xIndex), 24) }
            let values = shownRows.map { value($0, yIndex) ?? 0 }
            let labelWidth = labels.map(\.count).max() ?? 0
            let numbers = values.map(shown)
            let numberWidth = numbers.map(\.count).max() ?? 0
            let room = max(10, width - labelWidth - numberWidth - 6)
            let top = values.map { abs($0) }.max() ?? 0
            let total = values.reduce(0, +)
            for (index, number) in values.enumerated() {
                let eighthsLong = top > 0 ? Int((abs(number) / top * Double(room * 8)).rounded()) : 0
                let bar = String(repeating: "█", count: eighthsLong / 8) + eighths[eighthsLong % 8]
                var line = "  " + labels[index].padding(toLength: labelWidth, withPad: " ", startingAt: 0) + " " + bar + " " + numbers[index]
                if [.pie, .donut].contains(spec.type), total > 0 { line += " (" + ChartRenderer.number(number / total * 100, locale: locale, digits: 1) + " %)" }
                if spec.type == .funnel, let first = values.first, first > 0 { line += " (" + ChartRenderer.number(number / first * 100, locale: locale, digits: 0) + " %)" }
                out += line + "\n"
            }
            if rows.count > shownRows.count { out += "  … \(rows.count - shownRows.count) " + (locale == "en" ? "more\n" : "ещё\n") }
        }
        return out
    }
}
