import Foundation
import SwitchboardCore

/// Lines, areas and the scatter plot.
extension ChartRenderer {
    /// A line (or, `filled`, an area) over the categories in the result's order. With a series column,
    /// one line per series and a legend; without, one line over a faint fill. Each line is one path however
    /// many points it has (10,000 stay one path); markers only while there are at most 60 points; a value
    /// that is not a number leaves a gap.
    static func line(_ context: Context, filled: Bool) -> String {
        if context.seriesIndex != nil { return multiLine(context, filled: filled) }
        let points = context.points()
        let present = points.compactMap(\.value)
        guard !present.isEmpty else { return empty(context.palette) }
        let frame = context.frame()
        let axis = Axis(lower: Swift.min(0, present.min() ?? 0), upper: present.max() ?? 0)
        var out = valueAxis(axis, frame: frame, context: context)
        let step = points.count > 1 ? frame.w / Double(points.count - 1) : 0
        func x(_ index: Int) -> Double { frame.x + (points.count > 1 ? step * Double(index) : frame.w / 2) }
        let color = Palette.series[0]
        let (line, area) = paths(points.map(\.value), x: x, axis: axis, frame: frame)
        out += "<path d=\"\(area)\" fill=\"\(color)\" fill-opacity=\"\(filled ? "0.3" : "0.12")\"/>\n"
        out += "<path d=\"\(line)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2.5\" stroke-linejoin=\"round\" stroke-linecap=\"round\"/>\n"
        if points.count <= 60 {
            for (index, point) in points.enumerated() {
                guard let value = point.value else { continue }
                out += "<circle class=\"dot\" cx=\"\(fmt(x(index)))\" cy=\"\(fmt(axis.y(value, in: frame)))\" r=\"3.5\" fill=\"\(color)\">"
                out += "<title>\(escape(point.label)): \(escape(context.value(value)))</title></circle>\n"
            }
        }
        out += categoryLabels(points.map(\.label), slot: Swift.max(step, frame.w / 8), frame: frame, context: context, most: 8, longest: 12, center: x)
        return out
    }

    /// One line (or translucent area) per series over the shared categories; a series missing a category
    /// breaks there instead of drawing through it.
    static func multiLine(_ context: Context, filled: Bool) -> String {
        guard let (grid, frame, axis, start) = seriesCanvas(context) else { return empty(context.palette) }
        var out = start
        let count = grid.categories.count
        let step = count > 1 ? frame.w / Double(count - 1) : 0
        func x(_ index: Int) -> Double { frame.x + (count > 1 ? step * Double(index) : frame.w / 2) }
        for (k, name) in grid.series.enumerated() {
            let values = grid.values.map { $0[k] }
            let color = Palette.color(k)
            let (line, area) = paths(values, x: x, axis: axis, frame: frame)
            if filled { out += "<path d=\"\(area)\" fill=\"\(color)\" fill-opacity=\"0.18\"/>\n" }
            out += "<path d=\"\(line)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2.2\" stroke-linejoin=\"round\" stroke-linecap=\"round\">"
            out += "<title>\(escape(name))</title></path>\n"
            guard count <= 60 else { continue }
            for (index, value) in values.enumerated() {
                guard let value else { continue }
                out += "<circle class=\"dot\" cx=\"\(fmt(x(index)))\" cy=\"\(fmt(axis.y(value, in: frame)))\" r=\"3\" fill=\"\(color)\">"
                out += "<title>\(escape(grid.categories[index])) · \(escape(name)): \(escape(context.value(value)))</title></circle>\n"
            }
        }
        out += categoryLabels(grid.categories, slot: Swift.max(step, frame.w / 8), frame: frame, context: context, most: 8, longest: 12, center: x)
        return out
    }

    /// The `d` of a line through the values (a new subpath after each gap) and of the area under it down to zero.
    static func paths(_ values: [Double?], x: (Int) -> Double, axis: Axis, frame: Frame) -> (line: String, area: String) {
        let base = fmt(axis.y(axis.zero, in: frame))
        var line = ""
        var area = ""
        var run: [(Double, Double)] = []
        func close() {
            guard let first = run.first, let last = run.last else { return }
            area += "M\(fmt(first.0)),\(base)"
            for (px, py) in run { area += "L\(fmt(px)),\(fmt(py))" }
            area += "L\(fmt(last.0)),\(base)Z"
            run.removeAll(keepingCapacity: true)
        }
        for (index, value) in values.enumerated() {
            guard let value else {
                close()
                continue
            }
            let point = (x(index), axis.y(value, in: frame))
            line += (run.isEmpty ? "M" : "L") + fmt(point.0) + "," + fmt(point.1)
            run.append(point)
        }
        close()
        return (line.isEmpty ? "M0,0" : line, area.isEmpty ? "M0,0" : area)
    }

    /// Numeric x against numeric y, round ticks on both axes (fitted to the data, not forced through zero),
    /// a dot per row with its values in a tooltip, a colour per series when there is one. An x column that
    /// holds no numbers falls back to the row number.
    static func scatter(_ context: Context) -> String {
        let (xi, yi, si) = (context.xIndex, context.yIndex, context.seriesIndex)
        let byRow = !context.rows.contains { context.number($0, xi) != nil }
        var names: [String] = []
        var seriesAt: [String: Int] = [:]
        var dots: [(x: Double, y: Double, series: Int, name: String)] = []
        for (index, row) in context.rows.enumerated() {
            guard let y = context.number(row, yi), let x = byRow ? Double(index + 1) : context.number(row, xi) else { continue }
            var series = 0
            var name = ""
            if si != nil {
                name = context.label(row, si, fallback: index)
                if let known = seriesAt[name] {
                    series = known
                } else if names.count < maxSeries {
                    series = names.count
                    seriesAt[name] = series
                    names.append(name)
                } else {
                    continue
                }
            }
            dots.append((x, y, series, name))
        }
        guard !dots.isEmpty else { return empty(context.palette) }
        let grid = Grid(series: names, split: si != nil)
        let frame = context.frame(bottom: 64, legendRows: legendRows(grid))
        let xAxis = Axis(lower: dots.map(\.x).min() ?? 0, upper: dots.map(\.x).max() ?? 0)
        let yAxis = Axis(lower: dots.map(\.y).min() ?? 0, upper: dots.map(\.y).max() ?? 0)
        let locale = context.locale
        let xName = byRow ? "#" : (context.spec.x ?? "x")
        var out = valueAxis(yAxis, frame: frame, context: context)
        out += bottomValueAxis(xAxis, frame: frame, context: context) { number($0, locale: locale, compact: true) }
        out += legend(grid, context: context)
        let palette = context.palette
        out += "<text x=\"\(fmt(frame.x + frame.w / 2))\" y=\"\(fmt(frame.bottom + 42))\" font-size=\"12\" text-anchor=\"middle\" fill=\"\(palette.muted)\">"
        out += "\(escape(truncate(xName, 60)))</text>\n"
        out += "<text x=\"16\" y=\"\(fmt(frame.y + frame.h / 2))\" font-size=\"12\" text-anchor=\"middle\" fill=\"\(palette.muted)\" "
        out += "transform=\"rotate(-90 16 \(fmt(frame.y + frame.h / 2)))\">\(escape(truncate(context.spec.y, 40)))</text>\n"
        // Thousands of dots stay legible smaller and lighter; past 2,000 they drop their tooltips to keep the file small.
        let radius = dots.count > 1000 ? 2.5 : 4
        for dot in dots {
            out += "<circle class=\"dot\" cx=\"\(fmt(xAxis.x(dot.x, in: frame)))\" cy=\"\(fmt(yAxis.y(dot.y, in: frame)))\" r=\"\(fmt(radius))\" "
            out += "fill=\"\(Palette.color(dot.series))\" fill-opacity=\"0.75\""
            if dots.count <= 2000 {
                let prefix = dot.name.isEmpty ? "" : dot.name + " · "
                let title = "\(prefix)\(xName): \(number(dot.x, locale: locale)), \(context.spec.y): \(context.value(dot.y))"
                out += "><title>\(escape(title))</title></circle>\n"
            } else {
                out += "/>\n"
            }
        }
        return out
    }

    /// What grouped bars and multi-series lines share: the category × series grid, the frame under the
    /// legend, a value axis from zero, and the axis and legend drawn; nil when there is nothing to draw.
    static func seriesCanvas(_ context: Context) -> (Grid, Frame, Axis, String)? {
        let grid = context.grid()
        let all = grid.all
        guard !grid.categories.isEmpty, !all.isEmpty else { return nil }
        let frame = context.frame(legendRows: legendRows(grid))
        let axis = Axis(lower: Swift.min(0, all.min() ?? 0), upper: Swift.max(0, all.max() ?? 0))
        return (grid, frame, axis, valueAxis(axis, frame: frame, context: context) + legend(grid, context: context))
    }
}
