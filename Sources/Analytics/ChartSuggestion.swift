import Foundation
import SwitchboardCore

extension ChartSpec {
    /// This spec when it fits the result; else the suggested one, keeping this spec's type (and titles)
    /// when that type fits the suggested columns. The second value says what was wrong, nil when nothing.
    public func fitted(columns: [String], rows: [[JSONValue]]) -> (ChartSpec, String?) {
        do {
            try validate(columns: columns, rows: rows)
            return (self, nil)
        } catch {
            var suggestion = ChartSpec.suggest(columns: columns, rows: rows, title: title)
            suggestion.subtitle = subtitle
            suggestion.format = format
            var sameType = suggestion
            sameType.type = type
            if (try? sameType.validate(columns: columns, rows: rows)) != nil { suggestion = sameType }
            return (suggestion, error.message)
        }
    }

    /// A chart that suits a result when the planner's did not (or none was asked for): one number → KPI
    /// (with the second number as comparison), time on the first column → line, two categories → grouped
    /// bars, two numbers → scatter, long category names → horizontal bars, otherwise bars; a table when
    /// nothing is numeric.
    public static func suggest(columns: [String], rows: [[JSONValue]], title: String) -> ChartSpec {
        func isNumeric(_ index: Int) -> Bool {
            var seen = false
            for row in rows where row.indices.contains(index) && row[index] != .null {
                guard case .number = row[index] else { return false }
                seen = true
            }
            return seen
        }
        let numeric = columns.indices.filter(isNumeric)
        let categories = columns.indices.filter { !numeric.contains($0) }
        guard let value = numeric.last else { return ChartSpec(type: .table, x: nil, y: columns.first ?? "", title: title) }
        if rows.count == 1, categories.isEmpty {
            let compare = numeric.count == 2 ? columns[numeric[1]] : nil
            return ChartSpec(type: .kpi, x: nil, y: columns[numeric[0]], title: title, compare: compare)
        }
        if categories.isEmpty, numeric.count >= 2 {
            return ChartSpec(type: .scatter, x: columns[numeric[0]], y: columns[numeric[1]], title: title)
        }
        guard let first = categories.first else { return ChartSpec(type: .table, x: nil, y: columns[value], title: title) }
        let labels = rows.compactMap { $0.indices.contains(first) ? $0[first].stringValue : nil }
        let temporal = !labels.isEmpty && labels.allSatisfy { $0.count >= 7 && $0.prefix(4).allSatisfy(\.isNumber) && $0.dropFirst(4).first == "-" }
        if categories.count >= 2 {
            return ChartSpec(type: temporal ? .line : .groupedBar, x: columns[first], y: columns[value], title: title, series: columns[categories[1]])
        }
        if temporal { return ChartSpec(type: .line, x: columns[first], y: columns[value], title: title) }
        let long = labels.contains { $0.count > 14 } || rows.count > 12
        return ChartSpec(type: long ? .hbar : .bar, x: columns[first], y: columns[value], title: title)
    }
}
