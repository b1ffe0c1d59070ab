import Analytics
import Foundation
import SwitchboardCore
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The SVG renderer: every chart type in both themes is valid XML with no NaN, long Russian labels are
/// shortened, numbers are formatted per language, and 10,000 points make one path.
@Suite("Chart renderer")
struct ChartRendererTests {
    static func isXML(_ text: String) -> Bool { XMLParser(data: Data(text.utf8)).parse() }

    static let columns = ["stage", "count"]
    static let rows: [[JSONValue]] = [
        ["Очень длинное название стадии сделки, которое не помещается под столбцом", 1_234_567], ["Переговоры", 42], ["<Новая & «свежая»>", 0],
        [.null, 7],
    ]

    @Test("each chart type in each theme is valid SVG with a title, a description and no NaN")
    func allTypes() {
        for kind in ChartSpec.Kind.allCases {
            for theme in ChartRenderer.Theme.allCases {
                let spec = ChartSpec(type: kind, x: kind == .kpi ? nil : "stage", y: "count", title: "Сделки по стадиям — \(kind.rawValue)")
                let svg = ChartRenderer.svg(spec, columns: Self.columns, rows: kind == .kpi ? [[1_234_567]] : Self.rows, theme: theme)
                #expect(Self.isXML(svg), "\(kind) \(theme)")
                #expect(!svg.contains("NaN") && !svg.contains("inf"), "\(kind) \(theme)")
                #expect(svg.contains("<title id=\"t\">") && svg.contains("<desc id=\"d\">") && svg.contains("viewBox=\"0 0 800 450\""))
                if kind == .bar { #expect(svg.contains("Очень длинное") && !svg.contains("не помещается под столбцом</text>"), "long labels are cut") }
            }
        }
        let empty = ChartRenderer.svg(ChartSpec(type: .bar, x: "stage", y: "count", title: "Пусто"), columns: Self.columns, rows: [])
        #expect(Self.isXML(empty) && empty.contains("Нет данных"))
    }

    @Test("numbers read the Russian or the English way; axis ticks are round")
    func numbers() {
        #expect(ChartRenderer.number(1_234_567) == "1\u{202F}234\u{202F}567")
        #expect(ChartRenderer.number(1_234_567.5, locale: "en") == "1,234,567.50")
        #expect(ChartRenderer.number(-2.5) == "−2,50")
        #expect(ChartRenderer.number(2_500_000, compact: true) == "2,5 млн")
    }

    @Test("a 10,000-point line is one path")
    func bigLine() {
        let rows: [[JSONValue]] = (0..<10_000).map { [.string("p\($0)"), .number(sin(Double($0) / 100) * 1000)] }
        let svg = ChartRenderer.svg(ChartSpec(type: .line, x: "stage", y: "count", title: "10k"), columns: Self.columns, rows: rows)
        #expect(Self.isXML(svg) && svg.components(separatedBy: "<circle").count == 1 && svg.components(separatedBy: "<path").count == 3)
    }
}
