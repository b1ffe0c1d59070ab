import Analytics
import Foundation
import Storage
import SwitchboardCore

/// A shared dashboard as one self-contained page: its charts as inline SVG on the dashboard's 12-column
/// grid (one column on a phone), in Russian or English, light or dark. No scripts; every text escaped.
struct DashboardPage {
    let dashboard: Dashboard
    let charts: [StoredChart]
    let language: AccountPage.Language
    let theme: ChartRenderer.Theme

    private func t(_ russian: String, _ english: String) -> String { language == .ru ? russian : english }

    private var ordered: [(Dashboard.Tile, StoredChart)] {
        let byID = Dictionary(uniqueKeysWithValues: charts.map { ($0.id, $0) })
        return dashboard.layout.compactMap { tile in byID[tile.chartID].map { (tile, $0) } }
    }

    var json: JSONValue {
        [
            "name": .string(dashboard.name), "refreshed_at": dashboard.refreshedAt.map { .string($0.ISO8601Format()) } ?? .null,
            "charts": .array(ordered.map { tile, chart in
                ["title": .string(chart.title), "chart": chart.spec, "data": chart.result, "x": .number(Double(tile.x)), "y": .number(Double(tile.y)),
                 "w": .number(Double(tile.w)), "h": .number(Double(tile.h))]
            }),
        ]
    }

    var html: String {
        let dark = theme == .dark
        var out = """
            <!doctype html><html lang="\(language.rawValue)"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
            <title>\(AccountPage.escape(dashboard.name))</title>
            <style>
            body{margin:0;font-family:Inter,'Segoe UI',Roboto,Arial,sans-serif;background:\(dark ? "#0b1020" : "#f3f4f6");color:\(dark ? "#f3f4f6" : "#111827")}
            header{padding:20px 24px}h1{margin:0;font-size:22px}p.meta{margin:4px 0 0;color:#6b7280;font-size:13px}
            main{display:grid;grid-template-columns:repeat(12,1fr);gap:16px;padding:0 24px 24px}
            figure{margin:0;border-radius:12px;overflow:hidden;box-shadow:0 1px 3px rgba(0,0,0,.12)}figure svg{display:block;width:100%;height:auto}
            figcaption{font-size:12px;color:#ef4444;padding:4px 12px}
            @media (max-width:720px){main{grid-template-columns:1fr}main figure{grid-column:1 !important;grid-row:auto !important}}
            </style></head><body>
            <header><h1>\(AccountPage.escape(dashboard.name))</h1><p class="meta">
            """
        out += dashboard.refreshedAt.map { t("Обновлено ", "Refreshed ") + AccountPage.escape($0.ISO8601Format()) } ?? t("Данные на момент построения графиков", "Data as of when the charts were made")
        out += " · " + t("только просмотр", "read-only") + "</p></header><main>\n"
        if ordered.isEmpty { out += "<p>\(t("На этой панели пока нет графиков.", "This dashboard has no charts yet."))</p>" }
        for (tile, chart) in ordered {
            let svg: String
            if let spec = try? JSONDecoder().decode(ChartSpec.self, from: Data(chart.spec.jsonText.utf8)) {
                svg = ChartRenderer.svg(spec, columns: chart.columns, rows: chart.rows, theme: theme, locale: language.rawValue)
            } else {
                svg = ""
            }
            out += "<figure style=\"grid-column:\(tile.x + 1) / span \(tile.w);grid-row:\(tile.y + 1) / span \(tile.h)\">\(svg)"
            if let error = chart.refreshError {
                out += "<figcaption>\(t("Не удалось обновить", "Refresh failed")): \(AccountPage.escape(error))</figcaption>"
            }
            out += "</figure>\n"
        }
        return out + "</main></body></html>"
    }
}
