import Foundation
import SwitchboardCore

extension OfflinePlanner {
    /// A sales funnel: how many deals reached each stage or a later one (stages ordered by their sort in
    /// the CRM, lost deals left out), read as the conversion from one stage to the next.
    static func conversion(
        _ intent: Intent, table: DataDictionary.Table, conditions: [String], title: String, postgres: Bool
    ) throws(SwitchboardError) -> PlannedQuestion {
        func field(_ test: (DataDictionary.Column) -> Bool) -> DataDictionary.Column? { table.columns.first { $0.role == "field" && test($0) } }
        guard let stage = field({ ($0.references?.contains("status") ?? false) && !["SOURCE_ID", "TYPE_ID"].contains($0.crmField.uppercased()) }),
            let reference = stage.references, let dot = reference.firstIndex(of: ".")
        else {
            throw SwitchboardError(.unavailable, code: "cannot_answer", message: "\(table.name) has no stages to build a funnel from", field: "question")
        }
        let (statuses, key) = (String(reference[..<dot]), String(reference[reference.index(after: dot)...]))
        var join = "JOIN \(quote(statuses)) s ON s.\(quote(key)) = t.\(quote(stage.name))"
        if let condition = table.joins.first(where: { $0.from == "\(table.name).\(stage.name)" })?.condition {
            join += " AND " + condition.replacingOccurrences(of: "\(statuses).", with: "s.")
        }
        var kept = conditions
        if let semantic = field({ $0.crmField.uppercased() == "STAGE_SEMANTIC_ID" }) {
            kept.append("COALESCE(t.\(quote(semantic.name)), '') <> 'F'")
        } else if stage.crmField == "status_id" {
            kept.append("t.\(quote(stage.name)) <> 143")
        }
        // Stages belong to a pipeline: one funnel, the busiest pipeline's.
        var scope = ""
        if let pipeline = field({ ["CATEGORY_ID", "PIPELINE_ID"].contains($0.crmField.uppercased()) }) {
            let column = quote(pipeline.name)
            kept.append(
                "t.\(column) = (SELECT p.\(column) FROM \(quote(table.name)) p WHERE p.deleted_at IS NULL GROUP BY p.\(column) ORDER BY COUNT(*) DESC, p.\(column) LIMIT 1)")
            scope = " in the pipeline with the most deals"
        }
        let sql = """
            SELECT stage, SUM(deals) OVER (ORDER BY position DESC, stage ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS reached FROM (\
            SELECT s."name" AS stage, MIN(s."sort") AS position, COUNT(*) AS deals FROM \(quote(table.name)) t \(join) \
            WHERE \(kept.joined(separator: " AND ")) GROUP BY s."name") steps ORDER BY position, stage
            """
        return PlannedQuestion(
            title: title, sql: sql, chart: ChartSpec(type: .funnel, x: "stage", y: "reached", title: title),
            explanation: "Built-in planner: deals of \(table.name) that reached each stage or a later one\(scope), stages in the CRM's order, lost deals left out"
                + (intent.since.map { ", created since \($0.ISO8601Format())" } ?? "") + ".")
    }

    /// Values by weekday (rows, Monday first) and hour (columns) in the tenant's time zone: a heatmap.
    static func heatmap(
        _ intent: Intent, table: DataDictionary.Table, created: DataDictionary.Column, measured: String, measureName: String, conditions: [String],
        title: String, postgres: Bool, timeZone: TimeZone = .gmt
    ) -> PlannedQuestion {
        let column = "t.\(quote(created.name))"
        let local: String
        let weekday: String
        let hour: String
        if postgres {
            local = "(\(column) AT TIME ZONE '\(timeZone.identifier)')"
            weekday = "CAST(EXTRACT(ISODOW FROM \(local)) AS INTEGER)"
            hour = "CAST(EXTRACT(HOUR FROM \(local)) AS INTEGER)"
        } else {
            // SQLite has no zone database: the zone's current offset.
            let offset = timeZone.secondsFromGMT(for: intent.now)
            local = "datetime(\(column), '\(offset >= 0 ? "+" : "-")\(abs(offset)) seconds')"
            weekday = "((CAST(strftime('%w', \(local)) AS INTEGER) + 6) % 7 + 1)"
            hour = "CAST(strftime('%H', \(local)) AS INTEGER)"
        }
        let names = ["Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"].enumerated().map { "WHEN \($0.offset + 1) THEN '\($0.offset + 1) \($0.element)'" }.joined(separator: " ")
        let sql = "SELECT CASE \(weekday) \(names) END AS weekday, \(hour) AS hour, \(measured) FROM \(quote(table.name)) t "
            + "WHERE \(conditions.joined(separator: " AND ")) GROUP BY \(weekday), \(hour) ORDER BY \(weekday), 2"
        return PlannedQuestion(
            title: title, sql: sql, chart: ChartSpec(type: .heatmap, x: "hour", y: measureName, title: title, series: "weekday"),
            explanation: "Built-in planner: \(intent.metric.rawValue) of \(table.name) by weekday (Monday first) and hour in \(timeZone.identifier)"
                + (intent.missed ? ", missed calls only" : "") + "; deleted records are left out.")
    }
}
