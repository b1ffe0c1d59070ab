import Foundation
import SQLKit
import SwitchboardCore

/// A question asked about a tenant's mirror, kept with what answered it, so the chart can be fetched again
/// in any format (`GET …/charts/{id}.svg`).
public struct StoredChart: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var question: String
    public var title: String
    public var sql: String
    /// The chart spec as JSON (Analytics' `ChartSpec`).
    public var spec: JSONValue
    /// `{columns, rows, truncated}` as JSON.
    public var result: JSONValue
    /// `built-in` or `llm`.
    public var planner: String
    public var createdAt: Date
    /// When the result was last computed again (dashboards refresh their charts); nil until then.
    public var refreshedAt: Date?
    /// Why the last refresh failed (the previous result stays); nil after a good one.
    public var refreshError: String?

    public init(id: String, tenantID: String, question: String, title: String, sql: String, spec: JSONValue, result: JSONValue, planner: String, createdAt: Date) {
        self.id = id
        self.tenantID = tenantID
        self.question = question
        self.title = title
        self.sql = sql
        self.spec = spec
        self.result = result
        self.planner = planner
        self.createdAt = createdAt
    }

    /// `{columns, rows}` of the stored result.
    public var columns: [String] { (result.objectValue?["columns"]?.arrayValue ?? []).compactMap(\.stringValue) }
    public var rows: [[JSONValue]] { (result.objectValue?["rows"]?.arrayValue ?? []).map { $0.arrayValue ?? [] } }
}

/// Reads and writes `charts`.
public struct ChartRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    public func save(_ chart: StoredChart) async throws {
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO charts (id, tenant_id, question, title, sql, spec, result, planner, created_at)
                VALUES (\(bind: chart.id), \(bind: chart.tenantID), \(bind: chart.question), \(bind: chart.title), \(bind: chart.sql),
                    \(bind: chart.spec.jsonText), \(bind: chart.result.jsonText), \(bind: chart.planner), \(bind: chart.createdAt))
                """
            ).run()
        }
    }

    /// The tenant's chart `id`; nil when there is none (or it is another tenant's).
    public func find(tenantID: String, id: String) async throws -> StoredChart? {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM charts WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").first()
        }.map(Self.chart)
    }

    /// The tenant's charts `ids` that exist, in no particular order.
    public func find(tenantID: String, ids: [String]) async throws -> [StoredChart] {
        guard !ids.isEmpty else { return [] }
        return try await runner.run { sql in
            try await sql.select().column("*").from("charts").where("tenant_id", .equal, tenantID).where("id", .in, ids).all()
        }.map(Self.chart)
    }

    /// The tenant's newest charts.
    public func list(tenantID: String, limit: Int = 50) async throws -> [StoredChart] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM charts WHERE tenant_id = \(bind: tenantID) ORDER BY created_at DESC, id LIMIT \(unsafeRaw: String(limit))").all()
        }.map(Self.chart)
    }

    /// Stores a refreshed result, or keeps the old one and records why the refresh failed.
    public func refreshed(tenantID: String, id: String, result: JSONValue?, error: String?, at date: Date) async throws {
        try await runner.run { sql in
            if let result {
                try await sql.raw(
                    """
                    UPDATE charts SET result = \(bind: result.jsonText), refreshed_at = \(bind: date), refresh_error = NULL
                    WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)
                    """
                ).run()
            } else {
                try await sql.raw(
                    "UPDATE charts SET refreshed_at = \(bind: date), refresh_error = \(bind: error) WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)"
                ).run()
            }
        }
    }

    static func chart(_ row: any SQLRow) throws -> StoredChart {
        var chart = StoredChart(
            id: try row.decode(column: "id", as: String.self), tenantID: try row.decode(column: "tenant_id", as: String.self),
            question: try row.decode(column: "question", as: String.self), title: try row.decode(column: "title", as: String.self),
            sql: try row.decode(column: "sql", as: String.self),
            spec: JSONValue(jsonText: try row.decode(column: "spec", as: String.self)) ?? .null,
            result: JSONValue(jsonText: try row.decode(column: "result", as: String.self)) ?? .null,
            planner: try row.decode(column: "planner", as: String.self), createdAt: try row.date("created_at"))
        chart.refreshedAt = try row.optionalDate("refreshed_at")
        chart.refreshError = try row.decode(column: "refresh_error", as: String?.self)
        return chart
    }
}
