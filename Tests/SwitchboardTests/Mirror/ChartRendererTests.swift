import Analytics
import Foundation
import SwitchboardCore
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The SVG renderer: every chart type in both themes is valid XML with no NaN, long Russian labels are
/// shortened, numbers are formatted per language, and 10,000 points make one path; each kind draws its own
/// structure (bars per pair, stacks that sum, a cell per heatmap pair, folded pie slices, funnel shares,
/// KPI deltas), and data that does not fit still draws. The Vega-Lite export has a mark and an encoding per kind.
@Suite("Chart renderer")
struct ChartRendererTests {
    static func isXML(_ text: String) -> Bool { XMLParser(data: Data(text.utf8)).parse() }

    /// An SVG element with its attributes, its own text (not its children's) and its children.
    final class Node {
        let name: String
        let attributes: [String: String]
        var children: [Node] = []
        var text = ""
        init(name: String, attributes: [String: String]) {
            self.name = name
            self.attributes = attributes
        }
        var all: [Node] { [self] + children.flatMap(\.all) }
        var title: String? { children.first { $0.name == "title" }?.text }
        func number(_ attribute: String) -> Double { Double(attributes[attribute] ?? "") ?? .nan }
    }

    final class TreeBuilder: NSObject, XMLParserDelegate {
        let root = Node(name: "#document", attributes: [:])
        lazy var stack: [Node] = [root]
        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
            attributes attributeDict: [String: String] = [:]
        ) {
            let node = Node(name: elementName, attributes: attributeDict)
            stack.last?.children.append(node)
            stack.append(node)
        }
        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            stack.removeLast()
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last?.text += string }
    }

    /// Every element named `name` (with `class` `role` when given) in the SVG.
    static func elements(_ svg: String, _ name: String, role: String? = nil) -> [Node] {
        let parser = XMLParser(data: Data(svg.utf8))
        let builder = TreeBuilder()
        parser.delegate = builder
        guard parser.parse() else { return [] }
        return builder.root.all.filter { $0.name == name && (role == nil || $0.attributes["class"] == role) }
    }

    static func check(_ svg: String, _ what: String) {
        #expect(isXML(svg), "\(what): not XML")
        #expect(!svg.contains("NaN") && !svg.contains("inf"), "\(what): NaN or inf")
        #expect(svg.contains("<title id=\"t\">") && svg.contains("<desc id=\"d\">") && svg.contains("viewBox=\"0 0 800 450\""), "\(what)")
    }

    static let columns = ["stage", "count"]
    static let rows: [[JSONValue]] = [
        ["Очень длинное название стадии сделки, которое не помещается под столбцом", 1_234_567], ["Переговоры", 42], ["<Новая & «свежая»>", 0],
        [.null, 7],
    ]
    static let seriesColumns = ["month", "region", "count"]
    static let seriesRows: [[JSONValue]] = [
        ["Январь", "Москва", 120], ["Январь", "Санкт-Петербург", 80], ["Январь", "<Казань & Co>", 30],
        ["Февраль", "Москва", 140], ["Февраль", "<Казань & Co>", 45],
        ["Март", "Москва", 90], ["Март", "Санкт-Петербург", -20], ["Март", "<Казань & Co>", 60],
    ]

    /// Data that fits each kind: a series for the kinds that split by one, numbers on x for a scatter, one row
    /// with a previous value for a KPI.
    static func sample(_ kind: ChartSpec.Kind) -> (spec: ChartSpec, columns: [String], rows: [[JSONValue]]) {
        let title = "Сделки — \(kind.rawValue)"
        switch kind {
        case .groupedBar, .stackedBar, .heatmap, .area:
            return (ChartSpec(type: kind, x: "month", y: "count", title: title, series: "region"), seriesColumns, seriesRows)
        case .scatter:
            let rows: [[JSONValue]] = (0..<30).map { (index: Int) -> [JSONValue] in
                let manager: JSONValue = .string(index % 2 == 0 ? "Анна" : "Борис")
                return [.number(Double(index * 3)), .number(Double(index * index) / 7), manager]
            }
            return (ChartSpec(type: kind, x: "calls", y: "deals", title: title, series: "manager"), ["calls", "deals", "manager"], rows)
        case .kpi:
            return (
                ChartSpec(type: kind, x: nil, y: "revenue", title: title, compare: "previous", format: .currency), ["revenue", "previous"],
                [[1_234_567, 1_100_000]]
            )
        default:
            return (ChartSpec(type: kind, x: "stage", y: "count", title: title), columns, rows)
        }
    }

    @Test("each chart type in each theme and language is valid SVG with a title, a description and no NaN")
    func allTypes() throws {
        for kind in ChartSpec.Kind.allCases {
            let (spec, columns, rows) = Self.sample(kind)
            try spec.validate(columns: columns, rows: rows)
            for theme in ChartRenderer.Theme.allCases {
                for locale in ["ru", "en"] {
                    let svg = ChartRenderer.svg(spec, columns: columns, rows: rows, theme: theme, locale: locale)
                    Self.check(svg, "\(kind) \(theme) \(locale)")
                    #expect(svg.contains(theme == .dark ? "#111827\"/>" : "#ffffff\"/>"), "\(kind) \(theme) background")
                    if kind == .bar { #expect(svg.contains("Очень длинное") && !svg.contains("не помещается под столбцом</text>"), "long labels are cut") }
                }
            }
        }
        let empty = ChartRenderer.svg(ChartSpec(type: .bar, x: "stage", y: "count", title: "Пусто"), columns: Self.columns, rows: [])
        #expect(Self.isXML(empty) && empty.contains("Нет данных"))
        for kind in ChartSpec.Kind.allCases {
            let svg = ChartRenderer.svg(Self.sample(kind).spec, columns: Self.sample(kind).columns, rows: [])
            #expect(Self.isXML(svg) && svg.contains("Нет данных / No data"), "\(kind) empty")
        }
    }

    @Test("data that does not fit the kind still draws valid XML: missing columns, text or NaN for numbers, short rows, huge values")
    func misfits() {
        let columns = ["stage", "count"]
        let bad: [[[JSONValue]]] = [
            [["a", "много"], ["b", "nan"], ["c", "Infinity"], ["d", .number(.nan)], ["e", .number(.infinity)], ["f", .number(-.infinity)]],
            [[], ["x"], [.null, .null], [true, ["nested": [1, 2]]], [[1, 2], 3]],
            [["a", 1e300], ["b", -1e300], ["c", 1e-300], ["d", 0]],
            [["a", 0], ["b", 0]],
            [["одна", 5]],
        ]
        for kind in ChartSpec.Kind.allCases {
            // The spec names columns the result lacks (series, compare) or none for x.
            let specs = [
                ChartSpec(type: kind, x: "stage", y: "count", title: "Не то", series: "region", compare: "previous", format: .currency),
                ChartSpec(type: kind, x: nil, y: "missing", title: "Не то", format: .percent, subtitle: "  "),
            ]
            for spec in specs {
                for rows in bad {
                    for theme in ChartRenderer.Theme.allCases {
                        let svg = ChartRenderer.svg(spec, columns: columns, rows: rows, theme: theme, locale: "en")
                        Self.check(svg, "\(kind) \(rows.count) rows \(theme)")
                    }
                }
            }
        }
    }

    @Test("numbers read the Russian or the English way; money and percentages by format; axis ticks are round")
    func numbers() {
        #expect(ChartRenderer.number(1_234_567) == "1\u{202F}234\u{202F}567")
        #expect(ChartRenderer.number(1_234_567.5, locale: "en") == "1,234,567.50")
        #expect(ChartRenderer.number(-2.5) == "−2,50")
        #expect(ChartRenderer.number(2_500_000, compact: true) == "2,5 млн")
        #expect(ChartRenderer.number(.nan) == "—" && ChartRenderer.number(-.infinity) == "—")
        #expect(ChartRenderer.formatted(1_234_567, as: .currency) == "1\u{202F}234\u{202F}567\u{202F}₽")
        #expect(ChartRenderer.formatted(1_234_567, as: .currency, locale: "en") == "₽1,234,567")
        #expect(ChartRenderer.formatted(-1500.5, as: .currency, locale: "en") == "−₽1,500.50")
        #expect(ChartRenderer.formatted(12.5, as: .percent) == "12,5\u{202F}%")
        #expect(ChartRenderer.formatted(12.5, as: .percent, locale: "en") == "12.5%")
        #expect(ChartRenderer.formatted(3, as: .percent) == "3\u{202F}%")
        #expect(ChartRenderer.formatted(42, as: .number, locale: "en") == "42" && ChartRenderer.formatted(42, as: nil) == "42")
        #expect(ChartRenderer.formatted(2_500_000, as: .currency, compact: true) == "2,5 млн\u{202F}₽")
        let kpi = ChartRenderer.svg(
            ChartSpec(type: .kpi, x: nil, y: "revenue", title: "Выручка", format: .currency), columns: ["revenue"], rows: [[1_234_567]])
        #expect(kpi.contains(">1\u{202F}234\u{202F}567\u{202F}₽</text>"))
        let bars = ChartRenderer.svg(
            ChartSpec(type: .bar, x: "stage", y: "count", title: "Доля", format: .percent), columns: Self.columns, rows: [["a", 12.5], ["b", 40]])
        #expect(bars.contains("a: 12,5\u{202F}%</title>") && bars.contains(">40\u{202F}%</text>"), "tooltips and ticks in percent")
    }

    @Test("a 10,000-point line is one path")
    func bigLine() {
        let rows: [[JSONValue]] = (0..<10_000).map { [.string("p\($0)"), .number(sin(Double($0) / 100) * 1000)] }
        let svg = ChartRenderer.svg(ChartSpec(type: .line, x: "stage", y: "count", title: "10k"), columns: Self.columns, rows: rows)
        #expect(Self.isXML(svg) && svg.components(separatedBy: "<circle").count == 1 && svg.components(separatedBy: "<path").count == 3)
    }

    @Test("a line with a series draws one path per series and a legend; an area fills each")
    func multiLine() {
        let spec = ChartSpec(type: .line, x: "month", y: "count", title: "По регионам", series: "region")
        let svg = ChartRenderer.svg(spec, columns: Self.seriesColumns, rows: Self.seriesRows)
        Self.check(svg, "multi-line")
        #expect(Self.elements(svg, "path").count == 3 && Self.elements(svg, "rect", role: "swatch").count == 3)
        #expect(Self.elements(svg, "circle", role: "dot").count == Self.seriesRows.count)
        var area = spec
        area.type = .area
        let filled = ChartRenderer.svg(area, columns: Self.seriesColumns, rows: Self.seriesRows)
        #expect(Self.elements(filled, "path").count == 6 && filled.contains("fill-opacity=\"0.18\""))
        let single = ChartRenderer.svg(ChartSpec(type: .area, x: "stage", y: "count", title: "Одна"), columns: Self.columns, rows: Self.rows)
        #expect(Self.elements(single, "path").count == 2 && Self.elements(single, "rect", role: "swatch").isEmpty)
    }

    @Test("hbar: long Russian labels are cut to the left margin, the full name in a tooltip; values on a bottom axis")
    func hbar() {
        let svg = ChartRenderer.svg(ChartSpec(type: .hbar, x: "stage", y: "count", title: "Горизонтально"), columns: Self.columns, rows: Self.rows)
        Self.check(svg, "hbar")
        let labels = Self.elements(svg, "text").filter { $0.attributes["text-anchor"] == "end" && $0.attributes["font-size"] == "12" }
        #expect(labels.count == Self.rows.count)
        for label in labels {
            #expect(Double(label.text.count) * 7 <= label.number("x"), "\(label.text) is wider than the margin")
        }
        #expect(labels.contains { $0.text.hasSuffix("…") && $0.title?.hasSuffix("не помещается под столбцом") == true })
        let bars = Self.elements(svg, "rect", role: "bar")
        #expect(bars.count == 4 && bars.allSatisfy { $0.attributes["rx"] != nil || $0.number("width") == 0 })
        // The longest bar is the largest value, drawn left to right from the same zero.
        #expect(bars[0].number("width") > bars[1].number("width") && Set(bars.map { $0.number("x") }).count == 1)
        // Ticks run along the bottom: vertical grid lines.
        #expect(Self.elements(svg, "line").allSatisfy { $0.attributes["x1"] == $0.attributes["x2"] })
    }

    @Test("grouped bars: a bar per (category, series) pair with data, a legend swatch per series, negatives below zero")
    func groupedBar() {
        let spec = ChartSpec(type: .groupedBar, x: "month", y: "count", title: "Сгруппированные", series: "region")
        let svg = ChartRenderer.svg(spec, columns: Self.seriesColumns, rows: Self.seriesRows)
        Self.check(svg, "grouped")
        let bars = Self.elements(svg, "rect", role: "bar")
        #expect(bars.count == Self.seriesRows.count && Self.elements(svg, "rect", role: "swatch").count == 3)
        #expect(svg.components(separatedBy: "<rect").count - 1 == 1 + Self.seriesRows.count + 3)
        let negative = bars.first { $0.title?.hasPrefix("Март · Санкт-Петербург") == true }
        let positive = bars.first { $0.title?.hasPrefix("Март · Москва") == true }
        if let negative, let positive {
            #expect(abs(negative.number("y") - (positive.number("y") + positive.number("height"))) < 0.2, "both start at the zero line")
        } else {
            Issue.record("bars missing")
        }
        // Categories in first-appearance order, colours per series.
        #expect(bars.map { $0.attributes["fill"] ?? "" }.prefix(3) == ["#6366f1", "#14b8a6", "#f59e0b"])
        let legend = Self.elements(svg, "text").filter { ["Москва", "Санкт-Петербург", "<Казань & Co>"].contains($0.text) }
        #expect(legend.count == 3)
        // More than ten series: nine entries and "+N".
        let many: [[JSONValue]] = (0..<14).map { ["Январь", .string("Серия \($0)"), .number(Double($0))] }
        let crowded = ChartRenderer.svg(spec, columns: Self.seriesColumns, rows: many)
        #expect(Self.elements(crowded, "rect", role: "swatch").count == 9 && crowded.contains("+5 ещё"))
    }

    @Test("stacked bars: segments per pair, each stack as tall as its sum, the axis topped by the largest sum")
    func stackedBar() {
        let rows: [[JSONValue]] = [["Янв", "A", 10], ["Янв", "B", 20], ["Фев", "A", 5], ["Фев", "B", 5], ["Мар", "B", 30]]
        let spec = ChartSpec(type: .stackedBar, x: "month", y: "count", title: "Стопки", series: "region")
        let svg = ChartRenderer.svg(spec, columns: Self.seriesColumns, rows: rows)
        Self.check(svg, "stacked")
        let bars = Self.elements(svg, "rect", role: "bar")
        #expect(bars.count == 5)
        func stack(_ month: String) -> (height: Double, top: Double, bottom: Double) {
            let mine = bars.filter { $0.title?.hasPrefix(month + " ·") == true }
            return (mine.map { $0.number("height") }.reduce(0, +), mine.map { $0.number("y") }.min() ?? 0, mine.map { $0.number("y") + $0.number("height") }.max() ?? 0)
        }
        let (january, february, march) = (stack("Янв"), stack("Фев"), stack("Мар"))
        #expect(abs(january.height - 3 * february.height) < 0.5 && abs(january.height - march.height) < 0.3)
        #expect(abs(january.top - march.top) < 0.2 && abs(january.bottom - february.bottom) < 0.2)
        // The segments touch: the stack's height is its extent.
        #expect(abs((january.bottom - january.top) - january.height) < 0.3)
        #expect(Self.elements(svg, "text", role: "total").map(\.text) == ["30", "10", "30"])
        #expect(bars.first?.title == "Янв · A: 10 (итого 30)")
    }

    @Test("heatmap: a cell per (x, series) pair, numeric columns in order, colour by value, values in tooltips")
    func heatmap() {
        let days = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"]
        var rows: [[JSONValue]] = []
        for (d, day) in days.enumerated() {
            for hour in (0..<24).reversed() where !(d == 6 && hour < 3) {
                rows.append([.number(Double(hour)), .string(day), .number(Double(hour * (d + 1)))])
            }
        }
        let spec = ChartSpec(type: .heatmap, x: "hour", y: "calls", title: "Звонки по часам", series: "weekday")
        let svg = ChartRenderer.svg(spec, columns: ["hour", "weekday", "calls"], rows: rows)
        Self.check(svg, "heatmap")
        let cells = Self.elements(svg, "rect", role: "cell")
        #expect(cells.count == 7 * 24)
        #expect(cells.first?.title == "Пн · 0: 0" && cells[1].title == "Пн · 1: 1")
        #expect(cells.first { $0.title == "Вс · 23: 161" }?.attributes["fill"] == "#6366f1", "the largest value is the full colour")
        #expect(cells.first?.attributes["fill"] == "#ffffff", "zero is the background")
        #expect(cells.filter { $0.title?.hasSuffix(": —") == true }.count == 3, "pairs with no row are empty cells")
        let dark = ChartRenderer.svg(spec, columns: ["hour", "weekday", "calls"], rows: rows, theme: .dark)
        #expect(Self.elements(dark, "rect", role: "cell").first?.attributes["fill"] == "#111827")
        // Cells large enough carry their numbers; a hundred narrow columns do not.
        #expect(Self.elements(svg, "text").contains { $0.text == "161" })
        let wide: [[JSONValue]] = (0..<100).map { [.number(Double($0)), "A", .number(Double(5000 + $0))] }
        let narrow = ChartRenderer.svg(spec, columns: ["hour", "weekday", "calls"], rows: wide)
        Self.check(narrow, "narrow heatmap")
        #expect(Self.elements(narrow, "rect", role: "cell").count == 100 && !Self.elements(narrow, "text").contains { $0.text == "5\u{202F}050" })
    }

    @Test("pie and donut: more than eight slices fold the smallest into Другие / Other; a pie has no hole")
    func pie() {
        let rows: [[JSONValue]] = (1...12).map { [.string("Источник \($0)"), .number(Double($0 * 10))] }
        for kind in [ChartSpec.Kind.pie, .donut] {
            let spec = ChartSpec(type: kind, x: "stage", y: "count", title: "Источники")
            let svg = ChartRenderer.svg(spec, columns: Self.columns, rows: rows)
            Self.check(svg, "\(kind)")
            let slices = Self.elements(svg, "path", role: "slice")
            #expect(slices.count == 8 && svg.contains("Другие (5)"))
            #expect(slices.last?.title == "Другие (5): 150 (19,2\u{202F}%)")
            #expect(slices.first?.title?.hasPrefix("Источник 6:") == true, "the kept slices stay in the given order")
            let english = ChartRenderer.svg(spec, columns: Self.columns, rows: rows, locale: "en")
            #expect(english.contains("Other (5)") && !english.contains("Другие"))
            let fromCentre = slices.allSatisfy { $0.attributes["d"]?.hasPrefix("M260.0,250.0L") == true }
            #expect(fromCentre == (kind == .pie))
        }
        let few = ChartRenderer.svg(ChartSpec(type: .pie, x: "stage", y: "count", title: "Мало"), columns: Self.columns, rows: Self.rows)
        #expect(Self.elements(few, "path", role: "slice").count == 3 && !few.contains("Другие"))
        let whole = ChartRenderer.svg(ChartSpec(type: .donut, x: "stage", y: "count", title: "Одна"), columns: Self.columns, rows: [["Всё", 5]])
        Self.check(whole, "one slice")
        #expect(Self.elements(whole, "path", role: "slice").count == 1 && whole.contains("100\u{202F}%"))
    }

    @Test("funnel: centred steps in the given order with value and share of the first step")
    func funnel() {
        let rows: [[JSONValue]] = [["Лиды", 120], ["Квалификация", 80], ["Переговоры", 42], ["Договор", 90], ["Сделка", 12]]
        let svg = ChartRenderer.svg(ChartSpec(type: .funnel, x: "stage", y: "count", title: "Воронка"), columns: Self.columns, rows: rows)
        Self.check(svg, "funnel")
        #expect(svg.contains("Переговоры — 42 (35\u{202F}%)") && svg.contains("Лиды — 120 (100\u{202F}%)"))
        let steps = Self.elements(svg, "rect", role: "step")
        #expect(steps.compactMap { $0.title?.components(separatedBy: ":").first } == ["Лиды", "Квалификация", "Переговоры", "Договор", "Сделка"])
        for step in steps { #expect(abs(step.number("x") + step.number("width") / 2 - 400) < 0.2, "centred") }
        #expect(steps[3].number("width") > steps[2].number("width"), "not re-sorted")
        let english = ChartRenderer.svg(ChartSpec(type: .funnel, x: "stage", y: "count", title: "Funnel"), columns: Self.columns, rows: rows, locale: "en")
        #expect(english.contains("Переговоры — 42 (35%)"))
    }

    @Test("KPI with compare: ▲ green or ▼ red with the percent change, the absolute difference against zero or nothing")
    func kpiCompare() {
        func draw(_ rows: [[JSONValue]], locale: String = "ru", format: ChartSpec.ValueFormat? = nil) -> String {
            let spec = ChartSpec(type: .kpi, x: nil, y: "revenue", title: "Выручка", compare: "previous", format: format)
            let svg = ChartRenderer.svg(spec, columns: ["revenue", "previous"], rows: rows, locale: locale)
            Self.check(svg, "kpi \(rows)")
            return svg
        }
        let up = draw([[112.5, 100]])
        let delta = Self.elements(up, "text", role: "delta").first
        #expect(delta?.text == "▲ 12,5\u{202F}%" && delta?.attributes["fill"] == "#10b981" && up.contains("к прошлому периоду"))
        let down = Self.elements(draw([[97, 100]], locale: "en"), "text", role: "delta").first
        #expect(down?.text == "▼ 3%" && down?.attributes["fill"] == "#ef4444")
        #expect(draw([[97, 100]], locale: "en").contains("vs previous period"))
        #expect(Self.elements(draw([[500, 0]], format: .currency), "text", role: "delta").first?.text == "▲ 500\u{202F}₽")
        #expect(Self.elements(draw([[-20, .null]]), "text", role: "delta").first?.text == "▼ 20")
        #expect(Self.elements(draw([[100, 100]]), "text", role: "delta").first?.text == "= 0\u{202F}%")
        let plain = ChartRenderer.svg(ChartSpec(type: .kpi, x: nil, y: "revenue", title: "Выручка"), columns: ["revenue"], rows: [[5]])
        #expect(!plain.contains("▲") && !plain.contains("▼") && !plain.contains("прошлому"))
    }

    @Test("scatter: numeric axes with round ticks, a dot per row with a tooltip, a colour per series")
    func scatter() {
        let (spec, columns, rows) = Self.sample(.scatter)
        let svg = ChartRenderer.svg(spec, columns: columns, rows: rows)
        Self.check(svg, "scatter")
        let dots = Self.elements(svg, "circle", role: "dot")
        #expect(dots.count == rows.count && Set(dots.compactMap { $0.attributes["fill"] }).count == 2)
        #expect(dots[1].title == "Борис · calls: 3, deals: 0,14")
        let lines = Self.elements(svg, "line")
        #expect(lines.contains { $0.attributes["x1"] == $0.attributes["x2"] } && lines.contains { $0.attributes["y1"] == $0.attributes["y2"] })
        #expect(Self.elements(svg, "text").contains { $0.text == "80" }, "x ticks are round")
    }

    @Test("a subtitle sits under the title in the muted colour and moves the plot down")
    func subtitle() {
        let spec = ChartSpec(type: .bar, x: "stage", y: "count", title: "Сделки", subtitle: "За май & июнь")
        let svg = ChartRenderer.svg(spec, columns: Self.columns, rows: Self.rows)
        Self.check(svg, "subtitle")
        let text = Self.elements(svg, "text").first { $0.text == "За май & июнь" }
        #expect(text?.attributes["fill"] == "#6b7280" && text?.number("y") == 58)
        let plain = ChartRenderer.svg(ChartSpec(type: .bar, x: "stage", y: "count", title: "Сделки"), columns: Self.columns, rows: Self.rows)
        let top = { (svg: String) in Self.elements(svg, "line").map { $0.number("y1") }.min() ?? 0 }
        #expect(top(svg) > top(plain))
    }

    @Test("Vega-Lite: every kind is valid JSON with a mark and an encoding that fit it")
    func vegaLite() throws {
        for kind in ChartSpec.Kind.allCases {
            let (spec, columns, rows) = Self.sample(kind)
            let text = ChartExports.vegaLite(spec, columns: columns, rows: rows).jsonText
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(kind)")
            let encoding = try #require(object["encoding"] as? [String: Any], "\(kind) encoding")
            let markType = (object["mark"] as? [String: Any])?["type"] as? String
            #expect(!encoding.isEmpty && markType != nil && object["$schema"] as? String == "https://vega.github.io/schema/vega-lite/v5.json", "\(kind)")
            func type(_ channel: String) -> String? { (encoding[channel] as? [String: Any])?["type"] as? String }
            func field(_ channel: String) -> String? { (encoding[channel] as? [String: Any])?["field"] as? String }
            switch kind {
            case .hbar: #expect(type("y") == "nominal" && type("x") == "quantitative")
            case .groupedBar: #expect(field("xOffset") == "region" && field("color") == "region")
            case .stackedBar: #expect((encoding["y"] as? [String: Any])?["stack"] as? String == "zero" && field("color") == "region")
            case .area: #expect(markType == "area" && field("color") == "region")
            case .pie: #expect(markType == "arc" && (object["mark"] as? [String: Any])?["innerRadius"] == nil && field("theta") == "count")
            case .donut: #expect(markType == "arc" && (object["mark"] as? [String: Any])?["innerRadius"] != nil)
            case .funnel: #expect(markType == "bar" && type("y") == "nominal" && (encoding["y"] as? [String: Any])?["sort"] is NSNull)
            case .scatter: #expect(markType == "point" && type("x") == "quantitative" && field("color") == "manager")
            case .heatmap: #expect(markType == "rect" && field("y") == "region" && field("color") == "count")
            case .kpi: #expect(markType == "text" && field("text") == "revenue")
            case .table: #expect(markType == "text" && object["transform"] != nil)
            case .line: #expect(markType == "line")
            case .bar: #expect(markType == "bar" && type("x") == "nominal")
            }
        }
        let subtitled = ChartExports.vegaLite(
            ChartSpec(type: .line, x: "day", y: "n", title: "T", subtitle: "S"), columns: ["day", "n"], rows: [["2024-05-01", 1], ["2024-05-02", 2]])
        #expect(subtitled.objectValue?["title"]?.objectValue?["subtitle"] == "S")
        #expect(subtitled.objectValue?["encoding"]?.objectValue?["x"]?.objectValue?["type"] == "temporal")
    }
}

extension ChartRendererTests {
    @Test("dates on the x axis read as «мар 2026» / «Mar 2026» for months and «3 мар» / «Mar 3» for days")
    func dateLabels() {
        let months: [[JSONValue]] = [["2026-02-01", 5], ["2026-03-01", 7], ["2026-04-01", 2]]
        let monthly = ChartRenderer.svg(ChartSpec(type: .line, x: "month", y: "count", title: "По месяцам"), columns: ["month", "count"], rows: months)
        #expect(monthly.contains("мар 2026") && !monthly.contains("2026-03-01"))
        let english = ChartRenderer.svg(ChartSpec(type: .bar, x: "month", y: "count", title: "Monthly"), columns: ["month", "count"], rows: months, locale: "en")
        #expect(english.contains("Mar 2026"))
        let days: [[JSONValue]] = [["2026-03-02", 1], ["2026-03-03", 4]]
        let daily = ChartRenderer.svg(ChartSpec(type: .line, x: "day", y: "count", title: "По дням"), columns: ["day", "count"], rows: days)
        #expect(daily.contains("3 мар") && !daily.contains("2026-03-03"))
        let mixed: [[JSONValue]] = [["2026-03-02", 1], ["Переговоры", 4]]
        #expect(ChartRenderer.svg(ChartSpec(type: .bar, x: "stage", y: "count", title: "x"), columns: ["stage", "count"], rows: mixed).contains("2026-03-02"))
    }
}
