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

    /// A Vega-Lite v5 spec with the data inlined.
    public static func vegaLite(_ spec: ChartSpec, columns: [String], rows: [[JSONValue]]) -> JSONValue {
        let values: [JSONValue] = rows.map { row in
            .object(Dictionary(uniqueKeysWithValues: zip(columns, row).map { ($0.0, $0.1) }))
        }
        let mark: JSONValue
        var encoding: [String: JSONValue] = [:]
        switch spec.type {
        case .bar, .table, .hbar, .groupedBar, .stackedBar, .funnel, .heatmap:
            mark = ["type": "bar", "cornerRadiusEnd": 4]
            if let x = spec.x { encoding["x"] = ["field": .string(x), "type": "nominal", "sort": "-y"] }
            encoding["y"] = ["field": .string(spec.y), "type": "quantitative"]
        case .line, .area, .scatter:
            mark = ["type": "line", "point": true]
            if let x = spec.x { encoding["x"] = ["field": .string(x), "type": "temporal"] }
            encoding["y"] = ["field": .string(spec.y), "type": "quantitative"]
        case .pie, .donut:
            mark = ["type": "arc", "innerRadius": 60]
            encoding["theta"] = ["field": .string(spec.y), "type": "quantitative"]
            if let x = spec.x { encoding["color"] = ["field": .string(x), "type": "nominal"] }
        case .kpi:
            mark = ["type": "text", "fontSize": 48]
            encoding["text"] = ["field": .string(spec.y), "type": "quantitative"]
        }
        return [
            "$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": .string(spec.title), "width": "container",
            "data": ["values": .array(values)], "mark": mark, "encoding": .object(encoding),
        ]
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
