import Foundation
import SQLKit
import SwitchboardCore

/// Tenants' recurring jobs (the scheduler reads the enabled ones every tick).
public struct ScheduleRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    /// Stores a new schedule, or replaces the one with the same id. A name used by another of the
    /// tenant's schedules is a conflict on `name`.
    @discardableResult
    public func save(_ schedule: TenantSchedule) async throws -> TenantSchedule {
        try schedule.validate()
        var saved = schedule
        saved.updatedAt = .storageNow
        let payload = String(decoding: try JSONEncoder().encode(saved.payload), as: UTF8.self)
        let row = saved
        do {
            try await runner.run { sql in
                try await sql.raw(
                    """
                    INSERT INTO schedules (id, tenant_id, name, kind, payload, cron, every_seconds, enabled, max_attempts,
                        created_at, updated_at)
                    VALUES (\(bind: row.id), \(bind: row.tenantID), \(bind: row.name), \(bind: row.kind), \(bind: payload),
                        \(bind: row.cron), \(bind: row.everySeconds), \(bind: row.enabled), \(bind: row.maxAttempts),
                        \(bind: row.createdAt), \(bind: row.updatedAt))
                    ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, payload = excluded.payload,
                        cron = excluded.cron, every_seconds = excluded.every_seconds, enabled = excluded.enabled,
                        max_attempts = excluded.max_attempts, updated_at = excluded.updated_at
                    """
                ).run()
            }
        } catch where Database.isUniqueViolation(error) {
            throw SwitchboardError.conflict("the tenant already has a schedule named '\(row.name)'", field: "name")
        }
        return saved
    }

    public func find(tenantID: String, id: String) async throws -> TenantSchedule? {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM schedules WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").first()
        }.map(Self.decode)
    }

    /// The tenant's schedules by name.
    public func list(tenantID: String) async throws -> [TenantSchedule] {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM schedules WHERE tenant_id = \(bind: tenantID) ORDER BY name").all()
        }.map(Self.decode)
    }

    public func delete(tenantID: String, id: String) async throws {
        let removed = try await runner.run { sql in
            try await sql.raw("DELETE FROM schedules WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING id").first()
        }
        guard removed != nil else { throw SwitchboardError.notFound("schedule") }
    }

    /// Enabled schedules of tenants that are not deleted, with each tenant's time zone.
    public func active() async throws -> [(schedule: TenantSchedule, timeZone: String)] {
        let rows = try await runner.run { sql in
            try await sql.raw(
                """
                SELECT s.*, t.time_zone FROM schedules s JOIN tenants t ON t.id = s.tenant_id
                WHERE s.enabled = \(bind: true) AND t.deleted_at IS NULL ORDER BY s.tenant_id, s.name
                """
            ).all()
        }
        return try rows.map { (try Self.decode($0), try $0.decode(column: "time_zone", as: String.self)) }
    }

    private static func decode(_ row: any SQLRow) throws -> TenantSchedule {
        TenantSchedule(
            id: try row.decode(column: "id", as: String.self),
            tenantID: try row.decode(column: "tenant_id", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            kind: try row.decode(column: "kind", as: String.self),
            payload: try JSONDecoder().decode(JSONValue.self, from: Data(try row.decode(column: "payload", as: String.self).utf8)),
            cron: try row.decode(column: "cron", as: String?.self),
            everySeconds: try row.decode(column: "every_seconds", as: Int?.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            maxAttempts: try row.decode(column: "max_attempts", as: Int.self),
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}
