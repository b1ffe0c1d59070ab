import Foundation
import SwitchboardCore

/// Bars: vertical, horizontal, grouped and stacked by a series, and the funnel.
extension ChartRenderer {
    /// Vertical bars in the result's order; a value that is not a number draws as zero.
    static func bar(_ context: Context) -> String {
        let points = context.points()
        let values = points.map { $0.value ?? 0 }
        guard !values.isEmpty else { return empty(context.palette) }
        let frame = context.frame()
        let axis = Axis(lower: Swift.min(0, values.min() ?? 0), upper: values.max() ?? 0)
        var out = valueAxis(axis, frame: frame, context: context)
        let slot = frame.w / Double(values.count)
        let barWidth = Swift.max(2, Swift.min(64, slot * 0.7))
        let zero = axis.y(axis.zero, in: frame)
        for (index, point) in points.enumerated() {
            let y = axis.y(values[index], in: frame)
            let x = frame.x + slot * Double(index) + (slot - barWidth) / 2
            out += rect(
                x, Swift.min(y, zero), barWidth, abs(zero - y), radius: 4, fill: Palette.series[0], role: "bar",
                title: "\(point.label): \(context.value(values[index]))")
        }
        out += categoryLabels(points.map(\.label), slot: slot, frame: frame, context: context) { frame.x + slot * (Double($0) + 0.5) }
        return out
    }

    /// Horizontal bars: category names on the left (cut to the margin, full text in the tooltip), the value
    /// axis along the bottom, values at the bar ends while there is room for them.
    static func hbar(_ context: Context) -> String {
        let points = context.points()
        let values = points.map { $0.value ?? 0 }
        guard !values.isEmpty else { return empty(context.palette) }
        let palette = context.palette
        // The margin grows with the longest name up to 220 px; longer names are cut to it.
        let longest = points.map(\.label.count).max() ?? 0
        let left = Swift.min(220, Swift.max(72, Double(longest) * charWidth + 32))
        let frame = context.frame(left: left, bottom: 40, right: 32)
        let limit = Swift.max(3, Int((left - 24) / charWidth))
        let axis = Axis(lower: Swift.min(0, values.min() ?? 0), upper: values.max() ?? 0)
        var out = bottomValueAxis(axis, frame: frame, context: context)
        let band = frame.h / Double(values.count)
        let thickness = Swift.max(1, Swift.min(32, band * 0.7))
        let labelEvery = Swift.max(1, Int(Swift.min((14 / band).rounded(.up), 1000)))
        let zero = axis.x(axis.zero, in: frame)
        for (index, point) in points.enumerated() {
            let value = values[index]
            let end = axis.x(value, in: frame)
            let y = frame.y + band * Double(index) + (band - thickness) / 2
            let (x, length) = (Swift.min(zero, end), abs(end - zero))
            out += rect(x, y, length, thickness, radius: 4, fill: Palette.series[0], role: "bar", title: "\(point.label): \(context.value(value))")
            let middle = y + thickness / 2 + 4
            if index % labelEvery == 0 {
                let name = truncate(point.label, limit)
                out += "<text x=\"\(fmt(left - 8))\" y=\"\(fmt(middle))\" font-size=\"12\" text-anchor=\"end\" fill=\"\(palette.muted)\">\(escape(name))"
                out += (name == point.label ? "" : "<title>\(escape(point.label))</title>") + "</text>\n"
            }
            if band >= 14 {
                // The value sits inside the bar's end when it fits there, else just past it.
                let shown = context.value(value)
                let textWidth = Double(shown.count) * 6.5
                let inside = length > textWidth + 14
                let tx = value >= 0 ? (inside ? x + length - 6 : x + length + 6) : (inside ? x + 6 : x - 6)
                let anchor = (value >= 0) == inside ? "end" : "start"
                out += "<text x=\"\(fmt(tx))\" y=\"\(fmt(middle))\" font-size=\"11\" text-anchor=\"\(anchor)\" "
                out += "fill=\"\(inside ? "#ffffff" : palette.text)\">\(escape(shown))</text>\n"
            }
        }
        return out
    }

    /// Bars side by side per category, one colour per series; negative values hang below the zero line.
    static func groupedBar(_ context: Context) -> String {
        guard let (grid, frame, axis, start) = seriesCanvas(context) else { return empty(context.palette) }
        var out = start
        let slot = frame.w / Double(grid.categories.count)
        let group = slot * 0.8
        let sub = group / Double(Swift.max(grid.series.count, 1))
        let barWidth = Swift.max(1, sub > 6 ? sub - 2 : sub)
        let zero = axis.y(axis.zero, in: frame)
        for (c, category) in grid.categories.enumerated() {
            for (k, name) in grid.series.enumerated() {
                guard let value = grid.values[c][k] else { continue }
                let y = axis.y(value, in: frame)
                let x = frame.x + slot * Double(c) + (slot - group) / 2 + sub * Double(k) + (sub - barWidth) / 2
                let label = grid.split ? "\(category) · \(name)" : category
                out += rect(x, Swift.min(y, zero), barWidth, abs(zero - y), radius: 3, fill: Palette.color(k), role: "bar", title: "\(label): \(context.value(value))")
            }
        }
        out += categoryLabels(grid.categories, slot: slot, frame: frame, context: context) { frame.x + slot * (Double($0) + 0.5) }
        return out
    }

    /// Series stacked per category: positive values up from zero, negative ones down from it, so the axis
    /// spans the largest positive and negative sums; the total sits over each stack while there is room.
    static func stackedBar(_ context: Context) -> String {
        let grid = context.grid()
        guard !grid.categories.isEmpty, !grid.all.isEmpty else { return empty(context.palette) }
        let positive = grid.values.map { $0.compactMap(\.self).filter { $0 > 0 }.reduce(0, +) }
        let negative = grid.values.map { $0.compactMap(\.self).filter { $0 < 0 }.reduce(0, +) }
        let frame = context.frame(legendRows: legendRows(grid))
        let axis = Axis(lower: negative.min() ?? 0, upper: positive.max() ?? 0)
        var out = valueAxis(axis, frame: frame, context: context) + legend(grid, context: context)
        let slot = frame.w / Double(grid.categories.count)
        let barWidth = Swift.max(2, Swift.min(64, slot * 0.7))
        for (c, category) in grid.categories.enumerated() {
            let x = frame.x + slot * Double(c) + (slot - barWidth) / 2
            var (up, down) = (0.0, 0.0)
            let total = grid.values[c].compactMap(\.self).reduce(0, +)
            for (k, name) in grid.series.enumerated() {
                guard let value = grid.values[c][k], value != 0 else { continue }
                let from = value > 0 ? up : down
                let to = from + value
                if value > 0 { up = to } else { down = to }
                let (y1, y2) = (axis.y(from, in: frame), axis.y(to, in: frame))
                let label = grid.split ? "\(category) · \(name)" : category
                out += rect(
                    x, Swift.min(y1, y2), barWidth, abs(y2 - y1), radius: 2, fill: Palette.color(k), role: "bar",
                    title: "\(label): \(context.value(value)) (\(context.russian ? "итого" : "total") \(context.value(total)))",
                    extra: " stroke=\"\(context.palette.background)\" stroke-width=\"1\"")
            }
            if grid.categories.count <= 16, up > 0 {
                out += "<text class=\"total\" x=\"\(fmt(x + barWidth / 2))\" y=\"\(fmt(axis.y(up, in: frame) - 6))\" font-size=\"11\" text-anchor=\"middle\" "
                out += "fill=\"\(context.palette.text)\">\(escape(context.tick(total)))</text>\n"
            }
        }
        out += categoryLabels(grid.categories, slot: slot, frame: frame, context: context) { frame.x + slot * (Double($0) + 0.5) }
        return out
    }

    /// Centred bars in the order given (a funnel is never re-sorted), widths by value, each step labelled
    /// `name — value (share of the first step)`.
    static func funnel(_ context: Context) -> String {
        let points = context.points()
        let values = points.map { Swift.max($0.value ?? 0, 0) }
        guard let largest = values.max(), largest > 0 else { return empty(context.palette) }
        let first = values.first ?? 0
        let frame = Frame(x: 24, y: context.top + 4, w: width - 48, h: height - context.top - 28)
        let center = frame.x + frame.w / 2
        let band = frame.h / Double(values.count)
        let thickness = Swift.max(1, Swift.min(48, band * 0.74))
        let fontSize = Swift.min(13, band * 0.55)
        var out = ""
        var previous: (x: Double, w: Double, bottom: Double)?
        for (index, point) in points.enumerated() {
            let value = values[index]
            let w = Swift.max(2, value / largest * frame.w)
            let (x, y) = (center - w / 2, frame.y + band * Double(index) + (band - thickness) / 2)
            let share = first > 0 ? percent(value / first * 100, locale: context.locale) : nil
            let numbers = context.value(value) + (share.map { " (\($0))" } ?? "")
            // The gap from the step above, drawn as a faint trapezoid: what the step lost.
            if let above = previous, y > above.bottom {
                out += "<path d=\"M\(fmt(above.x)),\(fmt(above.bottom))L\(fmt(above.x + above.w)),\(fmt(above.bottom))L\(fmt(x + w)),\(fmt(y))L\(fmt(x)),\(fmt(y))Z\" "
                out += "fill=\"\(Palette.series[0])\" fill-opacity=\"0.12\"/>\n"
            }
            previous = (x, w, y + thickness)
            let opacity = values.count > 1 ? 1 - 0.45 * Double(index) / Double(values.count - 1) : 1
            out += rect(
                x, y, w, thickness, radius: 6, fill: Palette.series[0], role: "step", title: "\(point.label): \(numbers)",
                extra: " fill-opacity=\"\(String(format: "%.2f", opacity))\"")
            guard fontSize >= 8 else { continue }
            // Inside the bar when the whole label fits, else right of it; the name is cut, never the numbers.
            let full = "\(point.label) — \(numbers)"
            let perChar = fontSize * 0.55
            let outsideRoom = frame.right - (x + w + 8)
            let inside = Double(full.count) * perChar <= w - 16 || outsideRoom < 120
            let room = inside ? w - 16 : outsideRoom
            let nameLimit = Swift.max(3, Int(Swift.max(room / perChar, 0).rounded(.down)) - numbers.count - 3)
            let text = "\(truncate(point.label, nameLimit)) — \(numbers)"
            let (tx, anchor, color) = inside ? (center, "middle", "#ffffff") : (x + w + 8, "start", context.palette.text)
            out += "<text x=\"\(fmt(tx))\" y=\"\(fmt(y + thickness / 2 + fontSize * 0.36))\" font-size=\"\(fmt(fontSize))\" text-anchor=\"\(anchor)\" "
            out += "fill=\"\(color)\">\(escape(text))</text>\n"
        }
        return out
    }
}
