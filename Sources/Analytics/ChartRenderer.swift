import Foundation
import SwitchboardCore

/// Draws a chart spec with its data as SVG on the server, no browser: clean type, one palette, light and
/// dark themes, rounded bars, axes with round ticks, Russian or English number formatting (`1 234 567`),
/// `<title>` tooltips, a responsive `viewBox`, and an accessible title and description.
public enum ChartRenderer {
    public enum Theme: String, Sendable, CaseIterable { case light, dark }

    struct Palette {
        let background, text, muted, grid: String
        static func of(_ theme: Theme) -> Palette {
            theme == .dark
                ? Palette(background: "#111827", text: "#f3f4f6", muted: "#9ca3af", grid: "#374151")
                : Palette(background: "#ffffff", text: "#111827", muted: "#6b7280", grid: "#e5e7eb")
        }
        static let series = ["#6366f1", "#14b8a6", "#f59e0b", "#ef4444", "#8b5cf6", "#10b981", "#3b82f6", "#ec4899", "#84cc16", "#f97316"]
    }

    static let width = 800.0
    static let height = 450.0

    /// The chart as an SVG document.
    public static func svg(_ spec: ChartSpec, columns: [String], rows: [[JSONValue]], theme: Theme = .light, locale: String = "ru") -> String {
        let palette = Palette.of(theme)
        let yIndex = columns.firstIndex(of: spec.y) ?? max(columns.count - 1, 0)
        let xIndex = spec.x.flatMap { columns.firstIndex(of: $0) }
        let points: [(label: String, value: Double)] = rows.map { row in
            let label = xIndex.map { row.indices.contains($0) ? text(row[$0]) : "" } ?? ""
            let value = row.indices.contains(yIndex) ? (numeric(row[yIndex]) ?? 0) : 0
            return (label, value.isFinite ? value : 0)
        }
        var body = ""
        switch spec.type {
        case .bar, .hbar, .groupedBar, .stackedBar, .funnel, .heatmap: body = bars(points, palette: palette, locale: locale)
        case .line, .area, .scatter: body = line(points, palette: palette, locale: locale)
        case .pie, .donut: body = pie(points, palette: palette, locale: locale)
        case .kpi: body = kpi(points.first?.value ?? 0, label: spec.y, palette: palette, locale: locale)
        case .table: body = table(columns: columns, rows: rows, palette: palette, locale: locale)
        }
        let title = escape(spec.title)
        let description = escape("\(spec.type.rawValue) chart: \(points.count) values of \(spec.y)" + (spec.x.map { " by \($0)" } ?? ""))
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-labelledby="t d" \
            font-family="Inter, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif">
            <title id="t">\(title)</title><desc id="d">\(description)</desc>
            <rect width="100%" height="100%" rx="12" fill="\(palette.background)"/>
            <text x="24" y="36" font-size="18" font-weight="600" fill="\(palette.text)">\(escape(truncate(spec.title, 70)))</text>
            \(body)</svg>
            """
    }

    // MARK: chart types

    static let plot = (left: 84.0, top: 64.0, right: 24.0, bottom: 72.0)

    static func bars(_ points: [(label: String, value: Double)], palette: Palette, locale: String) -> String {
        guard !points.isEmpty else { return empty(palette) }
        let (ticks, top) = niceTicks(max: points.map(\.value).max() ?? 0, min: min(0, points.map(\.value).min() ?? 0))
        let (x0, y0) = (plot.left, plot.top)
        let (w, h) = (width - plot.left - plot.right, height - plot.top - plot.bottom)
        let bottom = ticks.first ?? 0
        var out = axes(ticks: ticks, top: top, palette: palette, locale: locale)
        let slot = w / Double(points.count)
        let barWidth = max(2, min(64, slot * 0.7))
        for (index, point) in points.enumerated() {
            let scaled = (point.value - bottom) / max(top - bottom, 1e-9) * h
            let zero = (0 - bottom) / max(top - bottom, 1e-9) * h
            let (yTop, barHeight) = point.value >= 0 ? (y0 + h - scaled, scaled - zero) : (y0 + h - zero, zero - scaled)
            let x = x0 + slot * Double(index) + (slot - barWidth) / 2
            out += "<rect x=\"\(fmt(x))\" y=\"\(fmt(yTop))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(max(barHeight, 0)))\" rx=\"4\" fill=\"\(Palette.series[0])\">"
            out += "<title>\(escape(point.label)): \(number(point.value, locale: locale))</title></rect>\n"
            if points.count <= 24 {
                let label = truncate(point.label, max(3, Int(slot / 7.5)))
                out += "<text x=\"\(fmt(x + barWidth / 2))\" y=\"\(fmt(y0 + h + 20))\" font-size=\"12\" text-anchor=\"middle\" fill=\"\(palette.muted)\">\(escape(label))</text>\n"
            }
        }
        return out
    }

    static func line(_ points: [(label: String, value: Double)], palette: Palette, locale: String) -> String {
        guard !points.isEmpty else { return empty(palette) }
        let (ticks, top) = niceTicks(max: points.map(\.value).max() ?? 0, min: min(0, points.map(\.value).min() ?? 0))
        let (x0, y0) = (plot.left, plot.top)
        let (w, h) = (width - plot.left - plot.right, height - plot.top - plot.bottom)
        let bottom = ticks.first ?? 0
        var out = axes(ticks: ticks, top: top, palette: palette, locale: locale)
        let step = points.count > 1 ? w / Double(points.count - 1) : 0
        func position(_ index: Int, _ value: Double) -> (Double, Double) {
            (x0 + (points.count > 1 ? step * Double(index) : w / 2), y0 + h - (value - bottom) / max(top - bottom, 1e-9) * h)
        }
        // Many points (10,000) become one path; markers and labels only when they can be told apart.
        var path = ""
        for (index, point) in points.enumerated() {
            let (x, y) = position(index, point.value)
            path += (index == 0 ? "M" : "L") + fmt(x) + "," + fmt(y)
        }
        let (firstX, _) = position(0, 0)
        let (lastX, _) = position(points.count - 1, 0)
        out += "<path d=\"\(path)L\(fmt(lastX)),\(fmt(y0 + h))L\(fmt(firstX)),\(fmt(y0 + h))Z\" fill=\"\(Palette.series[0])\" fill-opacity=\"0.12\"/>\n"
        out += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(Palette.series[0])\" stroke-width=\"2.5\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n"
        let labelEvery = max(1, points.count / 8)
        for (index, point) in points.enumerated() {
            let (x, y) = position(index, point.value)
            if points.count <= 60 {
                out += "<circle cx=\"\(fmt(x))\" cy=\"\(fmt(y))\" r=\"3.5\" fill=\"\(Palette.series[0])\"><title>\(escape(point.label)): \(number(point.value, locale: locale))</title></circle>\n"
            }
            if index % labelEvery == 0 {
                out += "<text x=\"\(fmt(x))\" y=\"\(fmt(y0 + h + 20))\" font-size=\"12\" text-anchor=\"middle\" fill=\"\(palette.muted)\">\(escape(truncate(point.label, 12)))</text>\n"
            }
        }
        return out
    }

    static func pie(_ points: [(label: String, value: Double)], palette: Palette, locale: String) -> String {
        let total = points.map { max($0.value, 0) }.reduce(0, +)
        guard total > 0 else { return empty(palette) }
        let (cx, cy, radius, inner) = (260.0, 250.0, 150.0, 90.0)
        var out = ""
        var angle = -Double.pi / 2
        for (index, point) in points.enumerated() where point.value > 0 {
            let sweep = point.value / total * 2 * .pi
            let end = angle + min(sweep, 2 * .pi - 0.0001)
            let large = sweep > .pi ? 1 : 0
            let (x1, y1, x2, y2) = (cx + radius * cos(angle), cy + radius * sin(angle), cx + radius * cos(end), cy + radius * sin(end))
            let (x3, y3, x4, y4) = (cx + inner * cos(end), cy + inner * sin(end), cx + inner * cos(angle), cy + inner * sin(angle))
            let color = Palette.series[index % Palette.series.count]
            out += "<path d=\"M\(fmt(x1)),\(fmt(y1))A\(fmt(radius)),\(fmt(radius)) 0 \(large) 1 \(fmt(x2)),\(fmt(y2))L\(fmt(x3)),\(fmt(y3))"
            out += "A\(fmt(inner)),\(fmt(inner)) 0 \(large) 0 \(fmt(x4)),\(fmt(y4))Z\" fill=\"\(color)\" stroke=\"\(palette.background)\" stroke-width=\"2\">"
            out += "<title>\(escape(point.label)): \(number(point.value, locale: locale)) (\(number(point.value / total * 100, locale: locale, digits: 1)) %)</title></path>\n"
            if index < 12 {
                let y = 90.0 + Double(index) * 26
                out += "<rect x=\"470\" y=\"\(fmt(y - 11))\" width=\"14\" height=\"14\" rx=\"3\" fill=\"\(color)\"/>"
                out += "<text x=\"492\" y=\"\(fmt(y))\" font-size=\"13\" fill=\"\(palette.text)\">\(escape(truncate(point.label, 28))) — \(number(point.value, locale: locale))</text>\n"
            }
            angle = end
        }
        out += "<text x=\"\(fmt(cx))\" y=\"\(fmt(cy + 8))\" font-size=\"22\" font-weight=\"600\" text-anchor=\"middle\" fill=\"\(palette.text)\">\(number(total, locale: locale))</text>\n"
        return out
    }

    static func kpi(_ value: Double, label: String, palette: Palette, locale: String) -> String {
        """
        <text x="400" y="250" font-size="72" font-weight="700" text-anchor="middle" fill="\(Palette.series[0])">\(number(value, locale: locale))</text>
        <text x="400" y="300" font-size="16" text-anchor="middle" fill="\(palette.muted)">\(escape(label))</text>

        """
    }

    static func table(columns: [String], rows: [[JSONValue]], palette: Palette, locale: String) -> String {
        let shown = rows.prefix(12)
        let columnWidth = (width - 48) / Double(max(columns.count, 1))
        let limit = max(4, Int(columnWidth / 8))
        var out = ""
        for (index, column) in columns.enumerated() {
            out += "<text x=\"\(fmt(24 + columnWidth * Double(index)))\" y=\"84\" font-size=\"13\" font-weight=\"600\" fill=\"\(palette.muted)\">\(escape(truncate(column, limit)))</text>\n"
        }
        for (rowIndex, row) in shown.enumerated() {
            let y = 114 + Double(rowIndex) * 26
            out += "<line x1=\"24\" x2=\"\(fmt(width - 24))\" y1=\"\(fmt(y - 18))\" y2=\"\(fmt(y - 18))\" stroke=\"\(palette.grid)\"/>\n"
            for (index, value) in row.enumerated() {
                let shownValue = numeric(value).map { number($0, locale: locale) } ?? text(value)
                out += "<text x=\"\(fmt(24 + columnWidth * Double(index)))\" y=\"\(fmt(y))\" font-size=\"13\" fill=\"\(palette.text)\">\(escape(truncate(shownValue, limit)))</text>\n"
            }
        }
        if rows.count > shown.count {
            out += "<text x=\"24\" y=\"\(fmt(114 + Double(shown.count) * 26))\" font-size=\"12\" fill=\"\(palette.muted)\">… \(rows.count - shown.count) more</text>\n"
        }
        return out
    }

    // MARK: parts

    static func axes(ticks: [Double], top: Double, palette: Palette, locale: String) -> String {
        let (x0, y0) = (plot.left, plot.top)
        let (w, h) = (width - plot.left - plot.right, height - plot.top - plot.bottom)
        let bottom = ticks.first ?? 0
        var out = ""
        for tick in ticks {
            let y = y0 + h - (tick - bottom) / max(top - bottom, 1e-9) * h
            out += "<line x1=\"\(fmt(x0))\" x2=\"\(fmt(x0 + w))\" y1=\"\(fmt(y))\" y2=\"\(fmt(y))\" stroke=\"\(palette.grid)\" stroke-width=\"1\"/>"
            out += "<text x=\"\(fmt(x0 - 10))\" y=\"\(fmt(y + 4))\" font-size=\"12\" text-anchor=\"end\" fill=\"\(palette.muted)\">\(number(tick, locale: locale, compact: true))</text>\n"
        }
        return out
    }

    static func empty(_ palette: Palette) -> String {
        "<text x=\"400\" y=\"240\" font-size=\"16\" text-anchor=\"middle\" fill=\"\(palette.muted)\">Нет данных / No data</text>\n"
    }

    /// Round tick values from `min` to at least `max` (1, 2, 5 × 10ⁿ steps) and the top of the axis.
    static func niceTicks(max upper: Double, min lower: Double, count: Int = 5) -> ([Double], Double) {
        let span = Swift.max(upper - lower, 1e-9)
        let raw = span / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        let start = floor(lower / step) * step
        let end = Swift.max(ceil(upper / step) * step, start + step)
        var ticks: [Double] = []
        var value = start
        while value <= end + step / 2, ticks.count < 50 {
            ticks.append(abs(value) < step / 1e6 ? 0 : value)
            value += step
        }
        return (ticks, end)
    }

    /// `1 234 567` (ru) or `1,234,567` (en); `compact` shortens axis labels to `1,2 млн` / `1.2M`.
    public static func number(_ value: Double, locale: String = "ru", digits: Int? = nil, compact: Bool = false) -> String {
        let russian = locale.hasPrefix("ru")
        if compact, abs(value) >= 1_000_000 {
            let short = number(value / 1_000_000, locale: locale, digits: abs(value) >= 10_000_000 ? 0 : 1)
            return short + (russian ? " млн" : "M")
        }
        if compact, abs(value) >= 10_000 {
            return number(value / 1000, locale: locale, digits: 0) + (russian ? " тыс." : "k")
        }
        let places = digits ?? (value.rounded() == value ? 0 : 2)
        let formatted = String(format: "%.\(places)f", abs(value))
        let parts = formatted.split(separator: ".")
        var whole = ""
        for (index, character) in parts[0].enumerated() {
            if index > 0, (parts[0].count - index) % 3 == 0 { whole += russian ? "\u{202F}" : "," }
            whole.append(character)
        }
        let fraction = parts.count > 1 ? (russian ? "," : ".") + parts[1] : ""
        return (value < 0 ? "−" : "") + whole + fraction
    }

    /// A cell's number: JSON numbers, or text that is one.
    static func numeric(_ value: JSONValue) -> Double? {
        if case .number(let number) = value { return number }
        if case .string(let text) = value { return Double(text) }
        return nil
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: "—"
        case .string(let text): text
        default: value.scalarText ?? value.jsonText
        }
    }

    static func truncate(_ text: String, _ limit: Int) -> String { text.count <= limit ? text : String(text.prefix(Swift.max(limit - 1, 1))) + "…" }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value.isFinite ? value : 0) }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // Characters XML 1.0 cannot carry are dropped.
                if character.value < 0x20, character != "\n", character != "\t" { continue }
                out.unicodeScalars.append(character)
            }
        }
        return out
    }
}
