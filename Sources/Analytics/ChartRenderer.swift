import Foundation
import SwitchboardCore

/// Draws a chart spec with its data as SVG on the server, no browser: clean type, one palette, light and
/// dark themes, rounded bars, axes with round ticks, Russian or English number formatting (`1 234 567`),
/// money and percentages, `<title>` tooltips, a responsive `viewBox`, and an accessible title and description.
///
/// This file holds the entry point and the shared parts (layout, data shaping, axes, legend, numbers,
/// escaping). The kinds live in extensions: `ChartRenderer+Bars.swift` (bar, hbar, grouped, stacked,
/// funnel), `ChartRenderer+Lines.swift` (line, area, scatter) and `ChartRenderer+Shapes.swift` (pie, donut,
/// heatmap, KPI, table). Every kind takes any data without crashing: a missing column, text or NaN where
/// numbers belong draw as a simpler chart, gaps or "No data", never as invalid XML.
public enum ChartRenderer {
    public enum Theme: String, Sendable, CaseIterable { case light, dark }

    struct Palette: Sendable {
        let background, text, muted, grid: String
        static func of(_ theme: Theme) -> Palette {
            theme == .dark
                ? Palette(background: "#111827", text: "#f3f4f6", muted: "#9ca3af", grid: "#374151")
                : Palette(background: "#ffffff", text: "#111827", muted: "#6b7280", grid: "#e5e7eb")
        }
        static let series = ["#6366f1", "#14b8a6", "#f59e0b", "#ef4444", "#8b5cf6", "#10b981", "#3b82f6", "#ec4899", "#84cc16", "#f97316"]
        /// The folded "Other" slice: grey reads as "the rest" in both themes.
        static let other = "#9ca3af"
        static let up = "#10b981"
        static let down = "#ef4444"
        static func color(_ index: Int) -> String { series[index % series.count] }
    }

    static let width = 800.0
    static let height = 450.0
    /// Estimated width of a character at 12 px, Cyrillic included; used to cut labels to the room they have.
    static let charWidth = 7.0
    /// Series beyond this many are left out: past it no chart can tell its colours apart, and the value grid
    /// (categories × series) stays bounded whatever the result holds.
    static let maxSeries = 40

    /// The chart as an SVG document, `viewBox` 800×450. `locale` picks the language of numbers and words
    /// (`ru…` Russian, anything else English).
    public static func svg(_ spec: ChartSpec, columns: [String], rows: [[JSONValue]], theme: Theme = .light, locale: String = "ru") -> String {
        let palette = Palette.of(theme)
        let subtitle = spec.subtitle?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let xIndex = spec.x.flatMap { columns.firstIndex(of: $0) }
        let context = Context(
            spec: spec, columns: columns, rows: rows, palette: palette, locale: locale, top: subtitle.isEmpty ? 64 : 84,
            dates: DateLabels.detect(rows.map { row in xIndex.flatMap { row.indices.contains($0) ? row[$0].stringValue : nil } }))
        let body: String
        if rows.isEmpty {
            body = empty(palette)
        } else {
            switch spec.type {
            case .bar: body = bar(context)
            case .hbar: body = hbar(context)
            case .groupedBar: body = groupedBar(context)
            case .stackedBar: body = stackedBar(context)
            case .funnel: body = funnel(context)
            case .line: body = line(context, filled: false)
            case .area: body = line(context, filled: true)
            case .scatter: body = scatter(context)
            case .pie: body = pie(context, hole: false)
            case .donut: body = pie(context, hole: true)
            case .heatmap: body = heatmap(context)
            case .kpi: body = kpi(context)
            case .table: body = table(context)
            }
        }
        let title = escape(spec.title)
        var about = "\(spec.type.rawValue) chart: \(rows.count) values of \(spec.y)" + (spec.x.map { " by \($0)" } ?? "")
        if let series = spec.series { about += " and \(series)" }
        if !subtitle.isEmpty { about += ". " + subtitle }
        let subtitleText = subtitle.isEmpty
            ? "" : "<text x=\"24\" y=\"58\" font-size=\"13\" fill=\"\(palette.muted)\">\(escape(truncate(subtitle, 100)))</text>\n"
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-labelledby="t d" \
            font-family="Inter, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif">
            <title id="t">\(title)</title><desc id="d">\(escape(about))</desc>
            <rect width="100%" height="100%" rx="12" fill="\(palette.background)"/>
            <text x="24" y="36" font-size="18" font-weight="600" fill="\(palette.text)">\(escape(truncate(spec.title, 70)))</text>
            \(subtitleText)\(body)</svg>
            """
    }

    // MARK: what the kinds draw from

    /// A rectangle of the canvas: the plot area of a chart.
    struct Frame {
        var x, y, w, h: Double
        var right: Double { x + w }
        var bottom: Double { y + h }
    }

    /// One row of a single-series chart: its category and its value (nil when the cell is not a finite number).
    struct Point {
        let label: String
        let value: Double?
    }

    /// Long-format rows (x, series, y) as a table: categories in first-appearance order, series likewise,
    /// `values[category][series]` nil where no row has the pair, repeated pairs summed.
    struct Grid {
        var categories: [String] = []
        var series: [String] = []
        var values: [[Double?]] = []
        /// Whether a series column split the rows (otherwise one series named after the values column).
        var split = false
        /// Series the cap (`maxSeries`) left out.
        var droppedSeries = 0
        var all: [Double] { values.flatMap { $0.compactMap(\.self) } }
    }

    /// The spec, the result, the theme and the language, plus where the header ends; each kind reads its data through this.
    struct Context {
        let spec: ChartSpec
        let columns: [String]
        let rows: [[JSONValue]]
        let palette: Palette
        let locale: String
        /// The first free y under the title (and the subtitle when there is one).
        let top: Double
        /// How the x column's dates read (`мар 2026`, `3 мар`), when every x value is a date.
        let dates: DateLabels?

        var format: ChartSpec.ValueFormat { spec.format ?? .number }
        var russian: Bool { locale.hasPrefix("ru") }
        var xIndex: Int? { index(spec.x) }
        /// The values column; the last column when the spec names one the result lacks.
        var yIndex: Int? { columns.firstIndex(of: spec.y) ?? (columns.isEmpty ? nil : columns.count - 1) }
        var seriesIndex: Int? { index(spec.series) }

        func index(_ column: String?) -> Int? { column.flatMap { columns.firstIndex(of: $0) } }

        func cell(_ row: [JSONValue], _ index: Int?) -> JSONValue? {
            guard let index, row.indices.contains(index) else { return nil }
            return row[index]
        }

        /// A cell as a number the chart can place: finite and not absurdly large, else nil.
        func number(_ row: [JSONValue], _ index: Int?) -> Double? {
            guard let value = cell(row, index).flatMap(ChartRenderer.numeric), value.isFinite, abs(value) < 1e100 else { return nil }
            return value
        }

        /// A cell as a label; the row's number (1-based) when the column is missing.
        func label(_ row: [JSONValue], _ index: Int?, fallback: Int) -> String {
            guard let text = cell(row, index).map(ChartRenderer.text) else { return String(fallback + 1) }
            if let dates, index == xIndex { return dates.format(text, russian: russian) }
            return text
        }

        /// The value as the chart's format reads it, in full (tooltips, labels).
        func value(_ value: Double) -> String { ChartRenderer.formatted(value, as: format, locale: locale) }
        /// The value shortened for an axis tick.
        func tick(_ value: Double) -> String { ChartRenderer.formatted(value, as: format, locale: locale, compact: true) }

        /// One point per row: x as the label, y as the value.
        func points() -> [Point] {
            let (x, y) = (xIndex, yIndex)
            return rows.enumerated().map { index, row in Point(label: label(row, x, fallback: index), value: number(row, y)) }
        }

        /// The rows as a category × series table. `numericOrder` sorts categories (and series) that are all
        /// numbers by value, so hours and weekdays line up whatever order the query returned.
        func grid(numericOrder: Bool = false) -> Grid {
            let (x, y, s) = (xIndex, yIndex, seriesIndex)
            var grid = Grid()
            grid.split = s != nil
            var categoryAt: [String: Int] = [:]
            var seriesAt: [String: Int] = [:]
            var sums: [Int: [Int: Double]] = [:]
            var dropped: Set<String> = []
            for (index, row) in rows.enumerated() {
                let category = label(row, x, fallback: index)
                let name = s == nil ? spec.y : label(row, s, fallback: index)
                let c: Int
                if let known = categoryAt[category] {
                    c = known
                } else {
                    c = grid.categories.count
                    categoryAt[category] = c
                    grid.categories.append(category)
                }
                let k: Int
                if let known = seriesAt[name] {
                    k = known
                } else if grid.series.count < maxSeries {
                    k = grid.series.count
                    seriesAt[name] = k
                    grid.series.append(name)
                } else {
                    dropped.insert(name)
                    continue
                }
                if let value = number(row, y) { sums[c, default: [:]][k, default: 0] += value }
            }
            grid.droppedSeries = dropped.count
            var categoryOrder = Array(grid.categories.indices)
            var seriesOrder = Array(grid.series.indices)
            if numericOrder {
                categoryOrder = ChartRenderer.numericOrder(grid.categories) ?? categoryOrder
                seriesOrder = ChartRenderer.numericOrder(grid.series) ?? seriesOrder
            }
            grid.values = categoryOrder.map { c in seriesOrder.map { k in sums[c]?[k] } }
            grid.categories = categoryOrder.map { grid.categories[$0] }
            grid.series = seriesOrder.map { grid.series[$0] }
            return grid
        }

        /// The plot area under the header and `legendRows` rows of legend, leaving `left` and `bottom` for labels.
        func frame(left: Double = 84, bottom: Double = 72, right: Double = 24, legendRows: Int = 0) -> Frame {
            let y = top + (legendRows > 0 ? Double(legendRows) * 20 + 4 : 0)
            return Frame(x: left, y: y, w: width - left - right, h: Swift.max(height - y - bottom, 20))
        }
    }

    /// The indices of `labels` sorted by their numeric value, when every label is a number.
    static func numericOrder(_ labels: [String]) -> [Int]? {
        let numbers = labels.map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !numbers.isEmpty, numbers.allSatisfy({ $0?.isFinite == true }) else { return nil }
        return labels.indices.sorted { (numbers[$0] ?? 0, $0) < (numbers[$1] ?? 0, $1) }
    }

    // MARK: axes

    /// A value axis: round ticks and the domain they span.
    struct Axis {
        let ticks: [Double]
        let lower: Double
        let upper: Double
        var step: Double { ticks.count > 1 ? ticks[1] - ticks[0] : upper - lower }

        /// Round ticks covering `lower…upper` (widened when the two meet, so one value still gets a scale).
        init(lower: Double, upper: Double, count: Int = 5) {
            var (low, high) = lower.isFinite && upper.isFinite ? (Swift.min(lower, upper), Swift.max(lower, upper)) : (0, 1)
            if high - low <= Swift.max(abs(low), abs(high)) * 1e-9 {
                let pad = high == 0 ? 1 : abs(high) * 0.1
                (low, high) = (low == 0 ? 0 : low - pad, high + pad)
            }
            let (ticks, top) = ChartRenderer.niceTicks(max: high, min: low, count: count)
            self.ticks = ticks
            self.lower = ticks.first ?? low
            self.upper = top > self.lower ? top : self.lower + 1
        }

        /// The share of the way from `lower` to `upper`.
        func fraction(_ value: Double) -> Double { (value - lower) / Swift.max(upper - lower, 1e-12) }
        /// The y of a value in a frame (up is more).
        func y(_ value: Double, in frame: Frame) -> Double { frame.bottom - fraction(value) * frame.h }
        /// The x of a value in a frame (right is more).
        func x(_ value: Double, in frame: Frame) -> Double { frame.x + fraction(value) * frame.w }
        /// Where zero sits, kept inside the axis (a baseline for bars and areas).
        var zero: Double { Swift.min(Swift.max(0, lower), upper) }
    }

    /// Horizontal grid lines with value labels on the left.
    static func valueAxis(_ axis: Axis, frame: Frame, context: Context, label: ((Double) -> String)? = nil) -> String {
        var out = ""
        for tick in axis.ticks {
            let y = axis.y(tick, in: frame)
            out += "<line x1=\"\(fmt(frame.x))\" x2=\"\(fmt(frame.right))\" y1=\"\(fmt(y))\" y2=\"\(fmt(y))\" stroke=\"\(context.palette.grid)\" stroke-width=\"1\"/>"
            out += "<text x=\"\(fmt(frame.x - 10))\" y=\"\(fmt(y + 4))\" font-size=\"12\" text-anchor=\"end\" fill=\"\(context.palette.muted)\">"
            out += "\(escape(label?(tick) ?? context.tick(tick)))</text>\n"
        }
        return out
    }

    /// Vertical grid lines with value labels along the bottom.
    static func bottomValueAxis(_ axis: Axis, frame: Frame, context: Context, label: ((Double) -> String)? = nil) -> String {
        var out = ""
        for tick in axis.ticks {
            let x = axis.x(tick, in: frame)
            let text = label?(tick) ?? context.tick(tick)
            out += "<line x1=\"\(fmt(x))\" x2=\"\(fmt(x))\" y1=\"\(fmt(frame.y))\" y2=\"\(fmt(frame.bottom))\" stroke=\"\(context.palette.grid)\" stroke-width=\"1\"/>"
            out += "<text x=\"\(fmt(inside(x, text)))\" y=\"\(fmt(frame.bottom + 18))\" font-size=\"12\" text-anchor=\"middle\" fill=\"\(context.palette.muted)\">"
            out += "\(escape(text))</text>\n"
        }
        return out
    }

    /// Category names under the plot, centred on `center(i)`; every n-th when more than `most` would crowd,
    /// each cut to the room it has (at most `longest` characters).
    static func categoryLabels(
        _ labels: [String], slot: Double, frame: Frame, context: Context, most: Int = 24, longest: Int = 40, center: (Int) -> Double
    ) -> String {
        guard !labels.isEmpty else { return "" }
        let every = Swift.max(1, (labels.count + most - 1) / Swift.max(most, 1))
        let room = slot * Double(every)
        let limit = Swift.min(longest, Swift.max(3, room.isFinite ? Int(Swift.min(room / 7.5, 1000)) : 3))
        var out = ""
        for (index, label) in labels.enumerated() where index % every == 0 {
            let text = truncate(label, limit)
            out += "<text x=\"\(fmt(inside(center(index), text)))\" y=\"\(fmt(frame.bottom + 20))\" font-size=\"12\" text-anchor=\"middle\" fill=\"\(context.palette.muted)\">"
            out += "\(escape(text))</text>\n"
        }
        return out
    }

    /// The x of a centred label moved in so that the whole text stays on the canvas (first and last labels
    /// of a line or an axis sit on the plot's edges).
    static func inside(_ x: Double, _ text: String, size: Double = 12) -> Double {
        let half = Double(text.count) * size * 0.3 + 4
        return half * 2 >= width ? width / 2 : Swift.min(Swift.max(x, half), width - half)
    }

    /// Rows of legend the series need under the header: none for an unsplit chart, five entries a row.
    static func legendRows(_ grid: Grid) -> Int {
        guard grid.split, !grid.series.isEmpty else { return 0 }
        return grid.series.count > 5 ? 2 : 1
    }

    /// Colour swatches with series names under the header, five a row, at most ten entries (the last says how
    /// many more there are); names cut to their slot, the full name in a `<title>`.
    static func legend(_ grid: Grid, context: Context) -> String {
        guard legendRows(grid) > 0 else { return "" }
        let names = grid.series
        let more = names.count - (names.count > 10 ? 9 : names.count) + grid.droppedSeries
        let shown = more > 0 ? Swift.min(9, names.count) : names.count
        let slot = (width - 48) / 5
        let limit = Int((slot - 26) / charWidth)
        var out = ""
        func origin(_ index: Int) -> (Double, Double) { (24 + slot * Double(index % 5), context.top - 8 + Double(index / 5) * 20) }
        for index in 0..<shown {
            let (x, y) = origin(index)
            let name = names[index]
            let short = truncate(name, limit)
            out += "<rect class=\"swatch\" x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"12\" height=\"12\" rx=\"3\" fill=\"\(Palette.color(index))\"/>"
            out += "<text x=\"\(fmt(x + 18))\" y=\"\(fmt(y + 10.5))\" font-size=\"12\" fill=\"\(context.palette.text)\">\(escape(short))"
            out += (short == name ? "" : "<title>\(escape(name))</title>") + "</text>\n"
        }
        if more > 0 {
            let (x, y) = origin(shown)
            out += "<text x=\"\(fmt(x))\" y=\"\(fmt(y + 10.5))\" font-size=\"12\" fill=\"\(context.palette.muted)\">+\(more) \(context.russian ? "ещё" : "more")</text>\n"
        }
        return out
    }

    /// A rectangle with a tooltip; `radius` is kept within half its thinner side.
    static func rect(
        _ x: Double, _ y: Double, _ w: Double, _ h: Double, radius: Double = 0, fill: String, role: String, title: String? = nil, extra: String = ""
    ) -> String {
        let (w, h) = (Swift.max(w, 0), Swift.max(h, 0))
        let r = Swift.max(0, Swift.min(radius, w / 2, h / 2))
        var out = "<rect class=\"\(role)\" x=\"\(fmt(x))\" y=\"\(fmt(y))\" width=\"\(fmt(w))\" height=\"\(fmt(h))\""
        if r > 0 { out += " rx=\"\(fmt(r))\"" }
        out += " fill=\"\(fill)\"\(extra)"
        if let title { out += "><title>\(escape(title))</title></rect>\n" } else { out += "/>\n" }
        return out
    }

    static func empty(_ palette: Palette) -> String {
        "<text x=\"400\" y=\"240\" font-size=\"16\" text-anchor=\"middle\" fill=\"\(palette.muted)\">Нет данных / No data</text>\n"
    }

    /// Round tick values from `min` to at least `max` (1, 2, 5 × 10ⁿ steps) and the top of the axis.
    static func niceTicks(max upper: Double, min lower: Double, count: Int = 5) -> ([Double], Double) {
        guard upper.isFinite, lower.isFinite else { return ([0, 1], 1) }
        let span = Swift.max(upper - lower, 1e-9)
        let raw = span / Double(Swift.max(count, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        guard step.isFinite, step > 0 else { return ([lower, upper], upper) }
        let start = floor(lower / step) * step
        let end = Swift.max(ceil(upper / step) * step, start + step)
        // Ticks as start + i·step (not a running sum) so rounding errors don't pile up; at most 50 of them.
        let steps = ((end - start) / step).rounded()
        let n = steps.isFinite ? Int(Swift.min(Swift.max(steps, 1), 50)) : 1
        let ticks = (0...n).map { index -> Double in
            let value = start + step * Double(index)
            return abs(value) < step / 1e6 ? 0 : value
        }
        return (ticks, end)
    }

    // MARK: numbers and text

    /// `1 234 567` (ru, U+202F between groups) or `1,234,567` (en); `compact` shortens axis labels to
    /// `1,2 млн` / `1.2M`. Not a finite number: `—`.
    public static func number(_ value: Double, locale: String = "ru", digits: Int? = nil, compact: Bool = false) -> String {
        guard value.isFinite else { return "—" }
        let russian = locale.hasPrefix("ru")
        if compact, abs(value) >= 1_000_000 {
            let short = number(value / 1_000_000, locale: locale, digits: abs(value) >= 10_000_000 ? 0 : 1)
            return short + (russian ? " млн" : "M")
        }
        if compact, abs(value) >= 10_000 {
            return number(value / 1000, locale: locale, digits: 0) + (russian ? " тыс." : "k")
        }
        let places = Swift.min(Swift.max(digits ?? (value.rounded() == value ? 0 : 2), 0), 10)
        let formatted = String(format: "%.\(places)f", abs(value))
        let parts = formatted.split(separator: ".")
        guard let integral = parts.first else { return "0" }
        var whole = ""
        for (index, character) in integral.enumerated() {
            if index > 0, (integral.count - index) % 3 == 0 { whole += russian ? "\u{202F}" : "," }
            whole.append(character)
        }
        let fraction = parts.count > 1 ? (russian ? "," : ".") + parts[1] : ""
        let negative = value < 0 && (whole + fraction).contains(where: { $0 != "0" && $0.isNumber })
        return (negative ? "−" : "") + whole + fraction
    }

    /// A value as `format` reads it in the language:
    /// - `number`: `1 234 567` / `1,234,567`
    /// - `currency` (roubles): `1 234 567 ₽` / `₽1,234,567`, kopecks only when the value has them
    /// - `percent` (the value already in percent, `12.5` is 12.5 %): `12,5 %` / `12.5%`, one decimal at most
    ///
    /// Russian separates the sign from the number with U+202F, the same narrow no-break space as the
    /// thousands. `compact` shortens large numbers for axis ticks (`1,2 млн ₽`, `₽1.2M`).
    public static func formatted(_ value: Double, as format: ChartSpec.ValueFormat?, locale: String = "ru", compact: Bool = false) -> String {
        guard value.isFinite else { return "—" }
        let russian = locale.hasPrefix("ru")
        switch format ?? .number {
        case .number:
            return number(value, locale: locale, compact: compact)
        case .currency:
            let amount = number(abs(value), locale: locale, compact: compact)
            let sign = value < 0 && amount.contains(where: { $0 != "0" && $0.isNumber }) ? "−" : ""
            return russian ? sign + amount + "\u{202F}₽" : sign + "₽" + amount
        case .percent:
            let rounded = (value * 10).rounded() / 10
            let amount = number(rounded, locale: locale, digits: rounded.rounded() == rounded ? 0 : 1, compact: compact)
            return russian ? amount + "\u{202F}%" : amount + "%"
        }
    }

    /// A share in percent, one decimal at most: `35 %` / `35%`.
    static func percent(_ value: Double, locale: String) -> String { formatted(value, as: .percent, locale: locale) }

    /// A cell's number: JSON numbers, or text that is one.
    static func numeric(_ value: JSONValue) -> Double? {
        if case .number(let number) = value { return number }
        if case .string(let text) = value { return Double(text.trimmingCharacters(in: .whitespaces)) }
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

    /// A coordinate to one decimal. By hand, not `String(format:)`: a 10,000-point line formats 20,000 of them.
    static func fmt(_ value: Double) -> String {
        guard value.isFinite else { return "0.0" }
        let tenths = (value * 10).rounded()
        guard abs(tenths) < 1e15 else { return String(format: "%.1f", value) }
        let scaled = Int64(tenths)
        let magnitude = scaled.magnitude
        return (scaled < 0 ? "-" : "") + String(magnitude / 10) + "." + String(magnitude % 10)
    }

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
                if character.value == 0xFFFE || character.value == 0xFFFF { continue }
                out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// `#rrggbb` from `from` towards `to` by `t` (0…1): heatmap intensity.
    static func mix(_ from: String, _ to: String, _ t: Double) -> String {
        func channels(_ hex: String) -> [Double] {
            let digits = Array(hex.dropFirst())
            guard digits.count == 6 else { return [0, 0, 0] }
            return stride(from: 0, to: 6, by: 2).map { Double(Int(String(digits[$0...$0 + 1]), radix: 16) ?? 0) }
        }
        let share = t.isFinite ? Swift.min(Swift.max(t, 0), 1) : 0
        let (a, b) = (channels(from), channels(to))
        return "#" + zip(a, b).map { String(format: "%02x", Int((($0 + ($1 - $0) * share)).rounded())) }.joined()
    }
}

/// Dates on a chart's x axis in the reader's language: month buckets (`2026-03-01`) as `мар 2026` /
/// `Mar 2026`, days as `3 мар` / `Mar 3` (with the year when the days span several).
struct DateLabels: Sendable {
    enum Style: Sendable { case month, day }
    let style: Style
    let withYear: Bool

    static let russian = ["янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"]
    static let english = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `(year, month, day)` of a `YYYY-MM-DD` text (a time after it is allowed), else nil.
    static func parts(_ text: String) -> (Int, Int, Int)? {
        let utf8 = Array(text.utf8.prefix(10))
        guard utf8.count == 10, utf8[4] == UInt8(ascii: "-"), utf8[7] == UInt8(ascii: "-") else { return nil }
        if text.utf8.count > 10, !(text.utf8.count >= 16 && [UInt8(ascii: " "), UInt8(ascii: "T")].contains(Array(text.utf8)[10])) { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in utf8[range] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), (1...12).contains(month), (1...31).contains(day) else { return nil }
        return (year, month, day)
    }

    /// The style when every value is a date; nil otherwise (or when there are no values).
    static func detect(_ values: [String?]) -> DateLabels? {
        guard !values.isEmpty else { return nil }
        var years: Set<Int> = []
        var firstOfMonth = true
        for value in values {
            guard let value, let (year, _, day) = parts(value) else { return nil }
            years.insert(year)
            if day != 1 || value.utf8.count > 10 { firstOfMonth = false }
        }
        return DateLabels(style: firstOfMonth && values.count > 1 ? .month : .day, withYear: years.count > 1)
    }

    func format(_ text: String, russian: Bool) -> String {
        guard let (year, month, day) = Self.parts(text) else { return text }
        let name = (russian ? Self.russian : Self.english)[month - 1]
        switch style {
        case .month: return "\(name) \(year)"
        case .day:
            let base = russian ? "\(day) \(name)" : "\(name) \(day)"
            return withYear ? base + " \(year)" : base
        }
    }
}
