import Foundation
import SQLKit
import SwitchboardCore

/// A tenant's dashboard: saved charts on a 12-column grid, refreshed on a schedule, shareable read-only.
public struct Dashboard: Sendable, Equatable, Codable {
    /// One chart's place on the grid (columns 0–11, rows of equal height).
    public struct Tile: Sendable, Equatable, Codable {
        public var chartID: String
        public var x: Int
        public var y: Int
        public var w: Int
        public var h: Int

        public init(chartID: String, x: Int, y: Int, w: Int, h: Int) {
            self.chartID = chartID
            self.x = x
            self.y = y
            self.w = w
            self.h = h
        }

        enum CodingKeys: String, CodingKey { case chartID = "chart_id", x, y, w, h }
    }

    public var id: String
    public var tenantID: String
    public var name: String
    public var layout: [Tile]
    /// Minutes between refreshes of its charts; nil refreshes only on demand.
    public var refreshMinutes: Int?
    /// Bumped to revoke every share link issued so far.
    public var shareVersion: Int
    public var refreshedAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenantID: String, name: String, layout: [Tile], refreshMinutes: Int?, shareVersion: Int = 1, refreshedAt: Date? = nil, createdAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.layout = layout
        self.refreshMinutes = refreshMinutes
        self.shareVersion = shareVersion
        self.refreshedAt = refreshedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, layout
        case tenantID = "tenant_id", refreshMinutes = "refresh_minutes", shareVersion = "share_version", refreshedAt = "refreshed_at"
        case createdAt = "created_at", updatedAt = "updated_at"
    }
}

/// Reads and writes `dashboards`.
public struct DashboardRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) { self.runner = runner }

    static func layoutText(_ layout: [Dashboard.Tile]) throws -> String { try JSONValue(encoding: layout).jsonText }

    public func create(_ dashboard: Dashboard) async throws {
        let layout = try Self.layoutText(dashboard.layout)
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO dashboards (id, tenant_id, name, layout, refresh_minutes, share_version, created_at, updated_at)
                VALUES (\(bind: dashboard.id), \(bind: dashboard.tenantID), \(bind: dashboard.name), \(bind: layout), \(bind: dashboard.refreshMinutes),
                    \(bind: dashboard.shareVersion), \(bind: dashboard.createdAt), \(bind: dashboard.updatedAt))
                """
            ).run()
        }
    }

    /// Saves name, layout, refresh interval and share version.
    public func update(_ dashboard: Dashboard) async throws {
        let layout = try Self.layoutText(dashboard.layout)
        try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE dashboards SET name = \(bind: dashboard.name), layout = \(bind: layout), refresh_minutes = \(bind: dashboard.refreshMinutes),
                    share_version = \(bind: dashboard.shareVersion), updated_at = \(bind: Date.storageNow)
                WHERE tenant_id = \(bind: dashboard.tenantID) AND id = \(bind: dashboard.id)
                """
            ).run()
        }
    }

    public func markRefreshed(tenantID: String, id: String, at date: Date) async throws {
        try await runner.run { sql in
            try await sql.raw("UPDATE dashboards SET refreshed_at = \(bind: date) WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
        }
    }

    public func delete(tenantID: String, id: String) async throws -> Bool {
        try await runner.run { sql in
            let found = try await sql.raw("SELECT id FROM dashboards WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").first() != nil
            try await sql.raw("DELETE FROM dashboards WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
            return found
        }
    }

    public func find(tenantID: String, id: String) async throws -> Dashboard? {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM dashboards WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").first()
        }.map(Self.dashboard)
    }

    public func list(tenantID: String) async throws -> [Dashboard] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM dashboards WHERE tenant_id = \(bind: tenantID) ORDER BY name, id").all()
        }.map(Self.dashboard)
    }

    /// Dashboards of every tenant that refresh on a schedule.
    public func scheduled() async throws -> [Dashboard] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM dashboards WHERE refresh_minutes IS NOT NULL ORDER BY id").all()
        }.map(Self.dashboard)
    }

    static func dashboard(_ row: any SQLRow) throws -> Dashboard {
        let layout = try JSONDecoder().decode([Dashboard.Tile].self, from: Data(try row.decode(column: "layout", as: String.self).utf8))
        return Dashboard(
            id: try row.decode(column: "id", as: String.self), tenantID: try row.decode(column: "tenant_id", as: String.self),
            name: try row.decode(column: "name", as: String.self), layout: layout, refreshMinutes: try row.decode(column: "refresh_minutes", as: Int?.self),
            shareVersion: try row.decode(column: "share_version", as: Int.self), refreshedAt: try row.optionalDate("refreshed_at"),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }
}

/// A saved good question → SQL pair: the LLM planner's few-shot examples.
public struct StoredChartExample: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var question: String
    public var sql: String
    public var createdAt: Date

    public init(id: String, tenantID: String, question: String, sql: String, createdAt: Date) {
        self.id = id
        self.tenantID = tenantID
        self.question = question
        self.sql = sql
        self.createdAt = createdAt
    }
}

/// Reads and writes `chart_examples` and `llm_usage`.
public struct AnalyticsRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) { self.runner = runner }

    public func addExample(_ example: StoredChartExample) async throws {
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO chart_examples (id, tenant_id, question, sql, created_at)
                VALUES (\(bind: example.id), \(bind: example.tenantID), \(bind: example.question), \(bind: example.sql), \(bind: example.createdAt))
                """
            ).run()
        }
    }

    /// The tenant's newest examples (at most `limit`).
    public func examples(tenantID: String, limit: Int = 200) async throws -> [StoredChartExample] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM chart_examples WHERE tenant_id = \(bind: tenantID) ORDER BY created_at DESC, id LIMIT \(unsafeRaw: String(limit))").all()
        }.map { row in
            StoredChartExample(
                id: try row.decode(column: "id", as: String.self), tenantID: try row.decode(column: "tenant_id", as: String.self),
                question: try row.decode(column: "question", as: String.self), sql: try row.decode(column: "sql", as: String.self),
                createdAt: try row.date("created_at"))
        }
    }

    public func deleteExample(tenantID: String, id: String) async throws -> Bool {
        try await runner.run { sql in
            let found = try await sql.raw("SELECT id FROM chart_examples WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").first() != nil
            try await sql.raw("DELETE FROM chart_examples WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
            return found
        }
    }

    /// Adds one model call's tokens to the tenant's day (UTC).
    public func recordUsage(tenantID: String, model: String, requests: Int, promptTokens: Int, completionTokens: Int, failed: Bool, at date: Date = Date()) async throws {
        let day = String(date.ISO8601Format().prefix(10))
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO llm_usage (tenant_id, day, model, requests, prompt_tokens, completion_tokens, failures)
                VALUES (\(bind: tenantID), \(bind: day), \(bind: model), \(bind: requests), \(bind: promptTokens), \(bind: completionTokens), \(bind: failed ? 1 : 0))
                ON CONFLICT (tenant_id, day, model) DO UPDATE SET requests = llm_usage.requests + excluded.requests,
                    prompt_tokens = llm_usage.prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = llm_usage.completion_tokens + excluded.completion_tokens, failures = llm_usage.failures + excluded.failures
                """
            ).run()
        }
    }

    /// Usage per day and model since `day` (`YYYY-MM-DD`), newest first.
    public func usage(tenantID: String, since day: String) async throws -> [JSONValue] {
        try await runner.run { sql in
            try await sql.raw(
                "SELECT * FROM llm_usage WHERE tenant_id = \(bind: tenantID) AND day >= \(bind: day) ORDER BY day DESC, model"
            ).all()
        }.map { row in
            [
                "day": .string(try row.decode(column: "day", as: String.self)), "model": .string(try row.decode(column: "model", as: String.self)),
                "requests": .number(Double(try row.decode(column: "requests", as: Int.self))),
                "prompt_tokens": .number(Double(try row.decode(column: "prompt_tokens", as: Int.self))),
                "completion_tokens": .number(Double(try row.decode(column: "completion_tokens", as: Int.self))),
                "failures": .number(Double(try row.decode(column: "failures", as: Int.self))),
            ]
        }
    }
}
