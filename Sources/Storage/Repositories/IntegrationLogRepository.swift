import Foundation
import SQLKit
import SwitchboardCore

/// The integration log: every exchange with an external system, newest first.
public struct IntegrationLogRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) { self.runner = runner }

    /// Filters for ``list(tenantID:filter:)``.
    public struct Filter: Sendable {
        public var integration: String?
        public var status: IntegrationLogEntry.Status?
        /// An event type (`telephony.upload`) or a family of them ending in `.` (`telephony.`).
        public var eventType: String?
        public var before: Date?
        public var limit: Int

        public init(
            integration: String? = nil, status: IntegrationLogEntry.Status? = nil, eventType: String? = nil, before: Date? = nil,
            limit: Int = 50
        ) {
            self.integration = integration
            self.eventType = eventType
            self.status = status
            self.before = before
            self.limit = limit
        }
    }

    public func append(_ entry: IntegrationLogEntry) async throws {
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO integration_logs (id, tenant_id, integration, event_type, status, request_data,
                    response_data, error_message, duration_ms, created_at)
                VALUES (\(bind: entry.id), \(bind: entry.tenantID), \(bind: entry.integration), \(bind: entry.eventType),
                    \(bind: entry.status.rawValue), \(bind: entry.requestData), \(bind: entry.responseData),
                    \(bind: entry.errorMessage), \(bind: entry.durationMs), \(bind: entry.createdAt))
                """
            ).run()
        }
    }

    public func list(tenantID: String, filter: Filter = .init()) async throws -> [IntegrationLogEntry] {
        let limit = min(max(filter.limit, 1), 500)
        return try await runner.run { sql in
            var query = SQLQueryString("SELECT * FROM integration_logs WHERE tenant_id = \(bind: tenantID)")
            if let integration = filter.integration { query = query + " AND integration = \(bind: integration)" }
            if let status = filter.status { query = query + " AND status = \(bind: status.rawValue)" }
            if let event = filter.eventType {
                if event.hasSuffix(".") {
                    query = query + " AND substr(event_type, 1, \(literal: event.count)) = \(bind: event)"
                } else {
                    query = query + " AND event_type = \(bind: event)"
                }
            }
            if let before = filter.before { query = query + " AND created_at < \(bind: before)" }
            query = query + " ORDER BY created_at DESC LIMIT \(literal: limit)"
            return try await sql.raw(query).all()
        }.map(Self.decode)
    }

    /// Deletes entries older than `date` (retention); returns how many.
    public func prune(before date: Date) async throws -> Int {
        var removed = 0
        // In slices: a first prune after months must not hold one huge transaction (or load every id).
        while true {
            let slice = try await runner.run { sql in
                try await sql.raw(
                    """
                    DELETE FROM integration_logs WHERE id IN (
                        SELECT id FROM integration_logs WHERE created_at < \(bind: date) LIMIT 5000) RETURNING id
                    """
                ).all().count
            }
            removed += slice
            if slice < 5000 { return removed }
        }
    }

    static func decode(_ row: any SQLRow) throws -> IntegrationLogEntry {
        IntegrationLogEntry(
            id: try row.decode(column: "id", as: String.self),
            tenantID: try row.decode(column: "tenant_id", as: String.self),
            integration: try row.decode(column: "integration", as: String.self),
            eventType: try row.decode(column: "event_type", as: String.self),
            status: IntegrationLogEntry.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .error,
            requestData: try row.decode(column: "request_data", as: String?.self),
            responseData: try row.decode(column: "response_data", as: String?.self),
            errorMessage: try row.decode(column: "error_message", as: String?.self),
            durationMs: try row.decode(column: "duration_ms", as: Int?.self),
            createdAt: try row.date("created_at"))
    }
}
