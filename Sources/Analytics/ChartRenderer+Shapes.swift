import Foundation
import SwitchboardCore

/// Pie and donut, the heatmap, the KPI and the table.
extension ChartRenderer {
    /// Slices a pie can show: more than this and the smallest fold into one "Other" slice.
    static let maxSlices = 8

    /// A full pie (`hole` false) or a donut with the total in its middle. Only positive values make slices;
    /// past eight, the smallest are folded into "Другие" / "Other" (grey, last) so each colour stays readable.
    static func pie(_ context: Context, hole: Bool) -> String {
        let palette = context.palette
        var slices: [(label: String, value: Double, color: String)] = []
        let positive = context.points().compactMap { point in point.value.flatMap { $0 > 0 ? (point.label, $0) : nil } }
        if positive.count > maxSlices {
            // The largest seven keep their places in the given order; the rest become the eighth slice.
            let kept = Set(positive.indices.sorted { (positive[$0].1, -$0) > (positive[$1].1, -$1) }.prefix(maxSlices - 1))
            for index in positive.indices where kept.contains(index) {
                slices.append((positive[index].0, positive[index].1, Palette.color(slices.count)))
            }
            let rest = positive.indices.filter { !kept.contains($0) }
            let label = (context.russian ? "Другие" : "Other") + " (\(rest.count))"
            slices.append((label, rest.map { positive[$0].1 }.reduce(0, +), Palette.other))
        } else {
            slices = positive.enumerated().map { ($1.0, $1.1, Palette.color($0)) }
        }
        let total = slices.map(\.value).reduce(0, +)
        guard total > 0, total.isFinite else { return empty(palette) }
        let (cx, cy, radius) = (260.0, 250.0 + (context.top - 64) / 2, 150.0)
        let inner = hole ? 90.0 : 0
        var out = ""
        var angle = -Double.pi / 2
        for (index, slice) in slices.enumerated() {
            let share = slice.value / total
            let sweep = share * 2 * .pi
            let shareText = percent(share * 100, locale: context.locale)
            let title = "<title>\(escape(slice.label)): \(escape(context.value(slice.value))) (\(escape(shareText)))</title>"
            let attributes = "fill=\"\(slice.color)\" stroke=\"\(palette.background)\" stroke-width=\"2\""
            if sweep >= 2 * .pi - 1e-6 {
                // One slice is the whole circle; an arc cannot end where it starts, so it is drawn as rings.
                var d = "M\(fmt(cx + radius)),\(fmt(cy))A\(fmt(radius)),\(fmt(radius)) 0 1 1 \(fmt(cx - radius)),\(fmt(cy))"
                d += "A\(fmt(radius)),\(fmt(radius)) 0 1 1 \(fmt(cx + radius)),\(fmt(cy))Z"
                if hole {
                    d += "M\(fmt(cx + inner)),\(fmt(cy))A\(fmt(inner)),\(fmt(inner)) 0 1 0 \(fmt(cx - inner)),\(fmt(cy))"
                    d += "A\(fmt(inner)),\(fmt(inner)) 0 1 0 \(fmt(cx + inner)),\(fmt(cy))Z"
                }
                out += "<path class=\"slice\" d=\"\(d)\" fill-rule=\"evenodd\" \(attributes)>\(title)</path>\n"
            } else {
                let end = angle + sweep
                let large = sweep > .pi ? 1 : 0
                let (x1, y1, x2, y2) = (cx + radius * cos(angle), cy + radius * sin(angle), cx + radius * cos(end), cy + radius * sin(end))
                var d = "\(hole ? "M" : "M\(fmt(cx)),\(fmt(cy))L")\(fmt(x1)),\(fmt(y1))A\(fmt(radius)),\(fmt(radius)) 0 \(large) 1 \(fmt(x2)),\(fmt(y2))"
                if hole {
                    let (x3, y3, x4, y4) = (cx + inner * cos(end), cy + inner * sin(end), cx + inner * cos(angle), cy + inner * sin(angle))
                    d += "L\(fmt(x3)),\(fmt(y3))A\(fmt(inner)),\(fmt(inner)) 0 \(large) 0 \(fmt(x4)),\(fmt(y4))"
                }
                out += "<path class=\"slice\" d=\"\(d)Z\" \(attributes)>\(title)</path>\n"
            }
            // The share on the slice itself when it is wide enough to hold it.
            if sweep > 0.35 {
                let middle = angle + sweep / 2
                let r = hole ? (radius + inner) / 2 : radius * 0.64
                let (lx, ly) = slices.count == 1 && !hole ? (cx, cy) : (cx + r * cos(middle), cy + r * sin(middle))
                out += "<text x=\"\(fmt(lx))\" y=\"\(fmt(ly + 4))\" font-size=\"12\" font-weight=\"600\" text-anchor=\"middle\" fill=\"#ffffff\">\(escape(shareText))</text>\n"
            }
            let y = cy - 160 + Double(index) * 28
            out += "<rect class=\"swatch\" x=\"470\" y=\"\(fmt(y - 11))\" width=\"14\" height=\"14\" rx=\"3\" fill=\"\(slice.color)\"/>"
            out += "<text x=\"492\" y=\"\(fmt(y))\" font-size=\"13\" fill=\"\(palette.text)\">\(escape(truncate(slice.label, 22))) — "
            out += "\(escape(context.value(slice.value))) (\(escape(shareText)))</text>\n"
            angle += sweep
        }
        if hole {
            out += "<text x=\"\(fmt(cx))\" y=\"\(fmt(cy + 8))\" font-size=\"22\" font-weight=\"600\" text-anchor=\"middle\" fill=\"\(palette.text)\">"
            out += "\(escape(context.value(total)))</text>\n"
        }
        return out
    }

    /// Columns per x category, rows per series value, cells coloured from the background to the first series
    /// colour by value; empty pairs stay grey. Numbers are written in the cells only when they fit. Categories
    /// that are all numbers (hours, weekdays) are put in numeric order; at most 120 columns and 40 rows.
    static func heatmap(_ context: Context) -> String {
        let grid = context.grid(numericOrder: true)
        let all = grid.all
        guard !grid.categories.isEmpty, !grid.series.isEmpty, !all.isEmpty else { return empty(context.palette) }
        let palette = context.palette
        let columns = Swift.min(grid.categories.count, 120)
        let rows = grid.series.count
        let longest = grid.series.map(\.count).max() ?? 0
        let left = Swift.min(150, Swift.max(44, Double(longest) * charWidth + 20))
        let rowLimit = Swift.max(3, Int((left - 20) / charWidth))
        let frame = context.frame(left: left, bottom: 64, right: 24)
        let (cw, ch) = (frame.w / Double(columns), frame.h / Double(rows))
        let low = Swift.min(0, all.min() ?? 0)
        let high = Swift.max(all.max() ?? 0, low)
        func share(_ value: Double) -> Double { high > low ? (value - low) / (high - low) : 1 }
        var out = ""
        for (k, name) in grid.series.enumerated() {
            for c in 0..<columns {
                let (x, y) = (frame.x + cw * Double(c), frame.y + ch * Double(k))
                let value = grid.values[c][k]
                let fill = value.map { mix(palette.background, Palette.series[0], share($0)) } ?? palette.grid
                let title = "\(name) · \(grid.categories[c]): \(value.map(context.value) ?? "—")"
                let gap = cw > 4 && ch > 4 ? " stroke=\"\(palette.background)\" stroke-width=\"1\"" : ""
                out += rect(x, y, cw, ch, radius: cw > 12 && ch > 12 ? 3 : 0, fill: fill, role: "cell", title: title, extra: gap)
                if let value, cw >= 30, ch >= 16 {
                    let shown = context.tick(value)
                    if Double(shown.count) * 6 <= cw - 4 {
                        out += "<text x=\"\(fmt(x + cw / 2))\" y=\"\(fmt(y + ch / 2 + 4))\" font-size=\"11\" text-anchor=\"middle\" "
                        out += "fill=\"\(share(value) > 0.55 ? "#ffffff" : palette.text)\">\(escape(shown))</text>\n"
                    }
                }
            }
            let every = Swift.max(1, Int(Swift.min((14 / ch).rounded(.up), 1000)))
            if k % every == 0 {
                out += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(frame.y + ch * (Double(k) + 0.5) + 4))\" font-size=\"12\" text-anchor=\"end\" "
                out += "fill=\"\(palette.muted)\">\(escape(truncate(name, rowLimit)))</text>\n"
            }
        }
        let widest = Double(grid.categories.prefix(columns).map { Swift.min($0.count, 10) }.max() ?? 1) * 6.5 + 6
        let every = Swift.max(1, Int(Swift.min((widest / cw).rounded(.up), 1000)))
        for c in stride(from: 0, to: columns, by: every) {
            out += "<text x=\"\(fmt(frame.x + cw * (Double(c) + 0.5)))\" y=\"\(fmt(frame.bottom + 16))\" font-size=\"11\" text-anchor=\"middle\" "
            out += "fill=\"\(palette.muted)\">\(escape(truncate(grid.categories[c], 10)))</text>\n"
        }
        // The scale: the lowest and highest values at the ends of the colour ramp.
        let (sx, sy) = (frame.right - 160, frame.bottom + 36)
        out += "<defs><linearGradient id=\"heat\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\"><stop offset=\"0\" stop-color=\"\(mix(palette.background, Palette.series[0], share(low)))\"/>"
        out += "<stop offset=\"1\" stop-color=\"\(Palette.series[0])\"/></linearGradient></defs>\n"
        out += "<rect x=\"\(fmt(sx))\" y=\"\(fmt(sy))\" width=\"160\" height=\"10\" rx=\"3\" fill=\"url(#heat)\" stroke=\"\(palette.grid)\"/>\n"
        out += "<text x=\"\(fmt(sx - 6))\" y=\"\(fmt(sy + 9))\" font-size=\"11\" text-anchor=\"end\" fill=\"\(palette.muted)\">\(escape(context.tick(low)))</text>"
        out += "<text x=\"\(fmt(sx + 166))\" y=\"\(fmt(sy + 9))\" font-size=\"11\" fill=\"\(palette.muted)\" text-anchor=\"start\">\(escape(context.tick(high)))</text>\n"
        let hidden = grid.categories.count - columns
        if hidden > 0 || grid.droppedSeries > 0 {
            let note = context.russian
                ? "не показаны: столбцов \(hidden), строк \(grid.droppedSeries)" : "not shown: \(hidden) columns, \(grid.droppedSeries) rows"
            out += "<text x=\"\(fmt(frame.x))\" y=\"\(fmt(sy + 9))\" font-size=\"11\" fill=\"\(palette.muted)\">\(escape(note))</text>\n"
        }
        return out
    }

    /// The first row's value, large, and under it, with `compare`, the change against the previous value:
    /// `▲ 12,5 %` green or `▼ 3 %` red, "к прошлому периоду"; the absolute difference when the previous value
    /// is zero or missing (no percentage of nothing).
    static func kpi(_ context: Context) -> String {
        let palette = context.palette
        let row = context.rows.first ?? []
        let value = context.number(row, context.yIndex)
        let shown = value.map(context.value) ?? "—"
        let size = Swift.min(72, (width - 64) / (Double(Swift.max(shown.count, 1)) * 0.62))
        let compareIndex = context.index(context.spec.compare)
        let hasDelta = compareIndex != nil && value != nil
        let baseline = hasDelta ? 230.0 : 250
        var out = "<text x=\"400\" y=\"\(fmt(baseline))\" font-size=\"\(fmt(size))\" font-weight=\"700\" text-anchor=\"middle\" fill=\"\(Palette.series[0])\">"
        out += "\(escape(shown))</text>\n"
        if hasDelta, let value {
            let previous = context.number(row, compareIndex)
            let difference = value - (previous ?? 0)
            let change: String
            if let previous, previous != 0 {
                change = percent(abs(difference / abs(previous) * 100), locale: context.locale)
            } else {
                change = context.value(abs(difference))
            }
            let (mark, color) = difference > 0 ? ("▲", Palette.up) : difference < 0 ? ("▼", Palette.down) : ("=", palette.muted)
            let against = context.russian ? "к прошлому периоду" : "vs previous period"
            out += "<text class=\"delta\" x=\"400\" y=\"\(fmt(baseline + 52))\" font-size=\"22\" font-weight=\"600\" text-anchor=\"middle\" fill=\"\(color)\">"
            out += "\(mark) \(escape(change))<tspan dx=\"10\" font-size=\"15\" font-weight=\"400\" fill=\"\(palette.muted)\">\(against)</tspan>"
            if let previous { out += "<title>\(escape(context.value(previous))) → \(escape(context.value(value)))</title>" }
            out += "</text>\n"
        }
        out += "<text x=\"400\" y=\"\(fmt(hasDelta ? baseline + 92 : 300))\" font-size=\"16\" text-anchor=\"middle\" fill=\"\(palette.muted)\">\(escape(context.spec.y))</text>\n"
        return out
    }

    /// The first rows as a table; the values column written in the chart's format.
    static func table(_ context: Context) -> String {
        let (palette, columns, rows) = (context.palette, context.columns, context.rows)
        let offset = context.top - 64
        let shown = rows.prefix(offset > 0 ? 11 : 12)
        let columnWidth = (width - 48) / Double(Swift.max(columns.count, 1))
        let limit = Swift.max(4, Int(Swift.min(columnWidth / 8, 1000)))
        let valueIndex = columns.firstIndex(of: context.spec.y)
        var out = ""
        for (index, column) in columns.enumerated() {
            out += "<text x=\"\(fmt(24 + columnWidth * Double(index)))\" y=\"\(fmt(84 + offset))\" font-size=\"13\" font-weight=\"600\" fill=\"\(palette.muted)\">"
            out += "\(escape(truncate(column, limit)))</text>\n"
        }
        for (rowIndex, row) in shown.enumerated() {
            let y = 114 + offset + Double(rowIndex) * 26
            out += "<line x1=\"24\" x2=\"\(fmt(width - 24))\" y1=\"\(fmt(y - 18))\" y2=\"\(fmt(y - 18))\" stroke=\"\(palette.grid)\"/>\n"
            for (index, value) in row.prefix(Swift.max(columns.count, 1)).enumerated() {
                let number = numeric(value).flatMap { $0.isFinite ? $0 : nil }
                let text = number.map { index == valueIndex ? context.value($0) : ChartRenderer.number($0, locale: context.locale) } ?? ChartRenderer.text(value)
                out += "<text x=\"\(fmt(24 + columnWidth * Double(index)))\" y=\"\(fmt(y))\" font-size=\"13\" fill=\"\(palette.text)\">\(escape(truncate(text, limit)))</text>\n"
            }
        }
        if rows.count > shown.count {
            let more = context.russian ? "ещё" : "more"
            out += "<text x=\"24\" y=\"\(fmt(114 + offset + Double(shown.count) * 26))\" font-size=\"12\" fill=\"\(palette.muted)\">… \(rows.count - shown.count) \(more)</text>\n"
        }
        return out
    }
}
