import Analytics
import Foundation
import Hummingbird
import NIOCore
import Storage
import SwitchboardCore

/// A stored chart in the format a file name asks for (`<id>.svg`, `.png`, `.json`, `.csv`, `.md`,
/// `.vl.json`), for the tenant API and for shared dashboards alike.
enum ChartFiles {
    static let formats = ["svg", "png", "json", "csv", "md", "vl.json"]

    /// `file` split into chart id and format; a 400 naming `file` when it names no format.
    static func split(_ file: String) throws(SwitchboardError) -> (id: String, format: String) {
        guard let dot = file.firstIndex(of: ".") else {
            throw SwitchboardError.invalid("file", "name a format: <id>.svg, .png, .json, .csv, .md or .vl.json")
        }
        return (String(file[..<dot]), String(file[file.index(after: dot)...]))
    }

    static func spec(of stored: StoredChart) throws(SwitchboardError) -> ChartSpec {
        guard let spec = try? JSONDecoder().decode(ChartSpec.self, from: Data(stored.spec.jsonText.utf8)) else {
            throw SwitchboardError(.internal, code: "chart_unreadable", message: "the stored chart spec cannot be read")
        }
        return spec
    }

    /// `theme=dark`, `lang=en` apply to SVG and PNG.
    static func response(_ stored: StoredChart, format: String, query: [String: String]) throws -> Response {
        let spec = try spec(of: stored)
        let (columns, rows) = (stored.columns, stored.rows)
        let theme = ChartRenderer.Theme(rawValue: query["theme"] ?? "light") ?? .light
        let locale = query["lang"] == "en" ? "en" : "ru"
        func text(_ body: String, _ type: String) -> Response {
            Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        switch format {
        case "json":
            var object: [String: JSONValue] = [
                "id": .string(stored.id), "question": .string(stored.question), "title": .string(stored.title), "sql": .string(stored.sql),
                "chart": stored.spec, "data": stored.result, "planner": .string(stored.planner), "created_at": .string(stored.createdAt.ISO8601Format()),
            ]
            if let refreshed = stored.refreshedAt { object["refreshed_at"] = .string(refreshed.ISO8601Format()) }
            if let error = stored.refreshError { object["refresh_error"] = .string(error) }
            return try JSONResponse.make(JSONValue.object(object))
        case "csv": return text(ChartExports.csv(columns: columns, rows: rows), "text/csv; charset=utf-8")
        case "md": return text(ChartExports.markdown(title: stored.title, columns: columns, rows: rows), "text/markdown; charset=utf-8")
        case "vl.json": return text(ChartExports.vegaLite(spec, columns: columns, rows: rows).jsonText, "application/json; charset=utf-8")
        case "svg": return text(ChartRenderer.svg(spec, columns: columns, rows: rows, theme: theme, locale: locale), "image/svg+xml; charset=utf-8")
        case "png":
            guard let png = try ChartExports.png(svg: ChartRenderer.svg(spec, columns: columns, rows: rows, theme: theme, locale: locale)) else {
                throw SwitchboardError(
                    .unavailable, code: "png_unavailable", message: "PNG needs rsvg-convert on the server (Debian: apt-get install librsvg2-bin); SVG works without it",
                    field: "file")
            }
            return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: png)))
        default:
            throw SwitchboardError.invalid("file", "unknown format '\(format)'; use svg, png, json, csv, md or vl.json")
        }
    }

    /// Links to every format of a chart under `base` (`/api/v1/tenants/acme/charts/<id>`).
    static func links(_ base: String) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: formats.map { ($0, JSONValue.string("\(base).\($0)")) }))
    }
}
