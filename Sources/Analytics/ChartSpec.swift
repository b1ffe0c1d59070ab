import Foundation
import SwitchboardCore

/// A chart as the planners describe it: what to draw from which result columns. Our own small typed model
/// (it fits an LLM's strict JSON schema, unlike full Vega-Lite), validated against the actual result before
/// anything is rendered.
public struct ChartSpec: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case bar, hbar
        case groupedBar = "grouped_bar"
        case stackedBar = "stacked_bar"
        case line, area, pie, donut, funnel, scatter, kpi, table, heatmap

        /// Kinds that split the values by a second category column (`series`).
        public var needsSeries: Bool { self == .groupedBar || self == .stackedBar || self == .heatmap }
    }

    /// How values read: plain numbers, money in the tenant's currency, or percentages.
    public enum ValueFormat: String, Sendable, Codable, CaseIterable { case number, currency, percent }

    public var type: Kind
    /// The result column along the axis (categories, time, or the x of a scatter); nil for a KPI.
    public var x: String?
    /// The result column with the values.
    public var y: String
    /// A second category column: the bars of a group or stack, one line per series, the rows of a heatmap.
    public var series: String?
    /// KPI only: the column holding the previous period's value, shown as a delta.
    public var compare: String?
    public var format: ValueFormat?
    public var title: String
    public var subtitle: String?

    public init(
        type: Kind, x: String?, y: String, title: String, series: String? = nil, compare: String? = nil, format: ValueFormat? = nil,
        subtitle: String? = nil
    ) {
        self.type = type
        self.x = x
        self.y = y
        self.title = title
        self.series = series
        self.compare = compare
        self.format = format
        self.subtitle = subtitle
    }

    /// Whether the spec fits the result: its columns exist, values are numbers, each kind gets what it needs
    /// (a KPI one row, a heatmap or grouped bar a series, a scatter a numeric x). Errors name `chart`.
    public func validate(columns: [String], rows: [[JSONValue]]) throws(SwitchboardError) {
        func invalid(_ message: String) -> SwitchboardError { SwitchboardError(.unavailable, code: "chart_invalid", message: message, field: "chart") }
        for name in [x, y, series, compare].compactMap(\.self) where !columns.contains(name) {
            throw invalid("the chart names the column '\(name)' the result does not have (it has \(columns.joined(separator: ", ")))")
        }
        func numbers(_ name: String) -> Bool {
            guard let index = columns.firstIndex(of: name) else { return false }
            return rows.allSatisfy { row in
                guard row.indices.contains(index) else { return false }
                return row[index] == .null || ChartRenderer.numeric(row[index]) != nil
            }
        }
        if type != .table, !numbers(y) { throw invalid("the values column '\(y)' must hold numbers") }
        switch type {
        case .kpi:
            if rows.count > 1 { throw invalid("a KPI needs one row, the result has \(rows.count)") }
            if let compare, !numbers(compare) { throw invalid("the comparison column '\(compare)' must hold numbers") }
        case .table: break
        case .scatter:
            guard let x, numbers(x) else { throw invalid("a scatter chart needs a numeric x column") }
        default:
            if x == nil { throw invalid("a \(type.rawValue) chart needs an x column") }
            if type.needsSeries, series == nil { throw invalid("a \(type.rawValue) chart needs a series column") }
        }
    }
}
