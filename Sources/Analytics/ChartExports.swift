import Foundation
import SwitchboardCore

/// A chart's other formats: its data as CSV or a Markdown table, and a Vega-Lite spec.
public enum ChartExports {
    /// RFC 4180 CSV with a header row.
    public static func csv(columns: [String], rows: [[JSONValue]]) -> String {
        func field(_ text: String) -> String {
            text.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        var out = columns.map(field).joined(separator: ",") + "\r\n"
        for row in rows { out += row.map { $0 == .null ? "" : field($0.scalarText ?? $0.jsonText) }.joined(separator: ",") + "\r\n" }
        return out
    }

    /// A Markdown table under the chart's title.
    public static func markdown(title: String, columns: [String], rows: [[JSONValue]]) -> String {
        func cell(_ value: JSONValue) -> String {
            (value == .null ? "" : value.scalarText ?? value.jsonText).replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }
        var out = "### \(title)\n\n| " + columns.map { cell(.string($0)) }.joined(separator: " | ") + " |\n"
        out += "|" + String(repeating: " --- |", count: columns.count) + "\n"
        for row in rows { out += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
        return out
    }

    /// A Vega-Lite v5 spec with the data inlined, one mark per kind, categories in the result's order like the SVG: `bar` (nominal x), `hbar` (nominal y,
    /// quantitative x), `grouped_bar` (`xOffset` by series), `stacked_bar` (stacked, coloured by series),
    /// `line` / `area` (x temporal, numeric or ordinal by its values; areas not stacked), `pie` / `donut`
    /// (`arc`, the donut with an inner radius), `funnel` (bars in the given order, names on y), `scatter`
    /// (points, quantitative x), `heatmap` (`rect`: x, y = series, colour = value), `kpi` (a big `text`).
    /// A `table` is drawn as text marks in a grid (every column folded into header × row cells), since
    /// Vega-Lite has no table mark. A series, when set, becomes the `color` encoding.
    public static func vegaLite(_ spec: ChartSpec, columns: [String], rows: [[JSONValue]]) -> JSONValue {
        let values: [JSONValue] = rows.map { row in
            .object(Dictionary(zip(columns, row).map { ($0.0, $0.1) }, uniquingKeysWith: { first, _ in first }))
        }
        func field(_ name: String, _ type: String, _ extra: [String: JSONValue] = [:]) -> JSONValue {
            .object(["field": .string(name), "type": .string(type)].merging(extra) { _, new in new })
        }
        let unit: String = switch spec.format { case .currency: ", ₽"; case .percent: ", %"; default: "" }
        let measure = field(spec.y, "quantitative", ["title": .string(spec.y + unit)])
        let color = spec.series.map { field($0, "nominal") }
        let xType = spec.x.map { axisType($0, columns: columns, rows: rows) } ?? "nominal"
        let mark: JSONValue
        var encoding: [String: JSONValue] = [:]
        var transform: [JSONValue] = []
        switch spec.type {
        case .bar:
            mark = ["type": "bar", "cornerRadiusEnd": 4]
            if let x = spec.x { encoding["x"] = field(x, "nominal", ["sort": nil]) }
            encoding["y"] = measure
        case .hbar:
            mark = ["type": "bar", "cornerRadiusEnd": 4]
            if let x = spec.x { encoding["y"] = field(x, "nominal", ["sort": nil]) }
            encoding["x"] = measure
        case .groupedBar:
            mark = ["type": "bar", "cornerRadiusEnd": 3]
            if let x = spec.x { encoding["x"] = field(x, "nominal", ["sort": nil]) }
            encoding["y"] = measure
            if let series = spec.series { encoding["xOffset"] = field(series, "nominal") }
        case .stackedBar:
            mark = ["type": "bar"]
            if let x = spec.x { encoding["x"] = field(x, "nominal", ["sort": nil]) }
            encoding["y"] = .object((measure.objectValue ?? [:]).merging(["stack": "zero"]) { _, new in new })
        case .line, .area:
            mark = spec.type == .line ? ["type": "line", "point": true] : ["type": "area", "line": true, "opacity": spec.series == nil ? 0.7 : 0.35]
            if let x = spec.x { encoding["x"] = field(x, xType, xType == "ordinal" ? ["sort": nil] : [:]) }
            // Series areas overlap translucently, as the SVG draws them, rather than stacking.
            encoding["y"] = spec.type == .area && spec.series != nil ? .object((measure.objectValue ?? [:]).merging(["stack": nil]) { _, new in new }) : measure
        case .pie, .donut:
            mark = spec.type == .donut ? ["type": "arc", "innerRadius": 60] : ["type": "arc"]
            encoding["theta"] = measure
            if let x = spec.x { encoding["color"] = field(x, "nominal", ["sort": nil]) }
        case .funnel:
            mark = ["type": "bar", "cornerRadius": 4]
            if let x = spec.x { encoding["y"] = field(x, "nominal", ["sort": nil]) }
            encoding["x"] = measure
        case .scatter:
            mark = ["type": "point", "filled": true]
            if let x = spec.x { encoding["x"] = field(x, "quantitative", ["scale": ["zero": false]]) }
            encoding["y"] = .object((measure.objectValue ?? [:]).merging(["scale": ["zero": false]]) { _, new in new })
        case .heatmap:
            mark = ["type": "rect"]
            if let x = spec.x { encoding["x"] = field(x, "ordinal") }
            if let series = spec.series { encoding["y"] = field(series, "ordinal") }
            encoding["color"] = measure
        case .kpi:
            mark = ["type": "text", "fontSize": 48, "fontWeight": "bold"]
            encoding["text"] = measure
        case .table:
            mark = ["type": "text", "align": "left"]
            transform = [["window": [["op": "row_number", "as": "_row"]]], ["fold": .array(columns.map(JSONValue.string)), "as": ["_column", "_value"]]]
            encoding["x"] = field("_column", "nominal", ["sort": .array(columns.map(JSONValue.string)), "axis": ["orient": "top", "title": nil]])
            encoding["y"] = field("_row", "ordinal", ["axis": nil])
            encoding["text"] = field("_value", "nominal")
        }
        if let color, encoding["color"] == nil, spec.type != .kpi, spec.type != .table { encoding["color"] = color }
        if ![.kpi, .table].contains(spec.type) {
            encoding["tooltip"] = .array([spec.x, spec.series].compactMap(\.self).map { field($0, "nominal") } + [measure])
        }
        var out: [String: JSONValue] = [
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json", "width": "container",
            "title": spec.subtitle.map { ["text": .string(spec.title), "subtitle": .string($0)] } ?? .string(spec.title),
            "data": ["values": .array(values)], "mark": mark, "encoding": .object(encoding),
        ]
        if !transform.isEmpty { out["transform"] = .array(transform) }
        return .object(out)
    }

    /// How Vega-Lite should read the x column: `quantitative` when every value is a number, `temporal` when
    /// every value starts like an ISO date (`2024-05-01…`), else `ordinal` (kept in the result's order).
    static func axisType(_ column: String, columns: [String], rows: [[JSONValue]]) -> String {
        guard let index = columns.firstIndex(of: column) else { return "nominal" }
        let cells = rows.compactMap { $0.indices.contains(index) && $0[index] != .null ? $0[index] : nil }
        guard !cells.isEmpty else { return "ordinal" }
        if cells.allSatisfy({ if case .number = $0 { true } else { false } }) { return "quantitative" }
        func isoDate(_ text: String) -> Bool {
            let head = Array(text.utf8.prefix(10))
            return head.count == 10 && head.enumerated().allSatisfy { index, byte in
                index == 4 || index == 7 ? byte == UInt8(ascii: "-") : (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            }
        }
        if cells.allSatisfy({ $0.stringValue.map(isoDate) ?? false }) { return "temporal" }
        return "ordinal"
    }

    /// PNG from SVG through `rsvg-convert` (Debian `librsvg2-bin`); nil when the tool is not installed.
    public static func png(svg: String) throws -> Data? {
        let candidates = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"]
        guard let tool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--format", "png", "--width", "1600"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data(svg.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, !data.isEmpty else {
            throw SwitchboardError(.unavailable, code: "png_failed", message: "rsvg-convert could not draw the chart")
        }
        return data
    }
}
