import Foundation
import SQLKit
import SwitchboardCore

/// Small named positions a connector keeps per tenant between runs — e.g. the Bitrix24 offline-event
/// `process_id` whose records are taken but not yet cleared, so a crash re-reads them instead of losing them.
public struct ConnectorCursorRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    public func get(tenantID: String, integration: String, name: String) async throws -> String? {
        try await runner.run { sql in
            try await sql.raw(
                "SELECT value FROM connector_cursors WHERE tenant_id = \(bind: tenantID) AND integration = \(bind: integration) AND name = \(bind: name)"
            ).first()?.decode(column: "value", as: String.self)
        }
    }

    public func set(tenantID: String, integration: String, name: String, value: String) async throws {
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO connector_cursors (tenant_id, integration, name, value, updated_at)
                VALUES (\(bind: tenantID), \(bind: integration), \(bind: name), \(bind: value), \(bind: Date.storageNow))
                ON CONFLICT (tenant_id, integration, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """
            ).run()
        }
    }

    public func delete(tenantID: String, integration: String, name: String) async throws {
        try await runner.run { sql in
            try await sql.raw(
                "DELETE FROM connector_cursors WHERE tenant_id = \(bind: tenantID) AND integration = \(bind: integration) AND name = \(bind: name)"
            ).run()
        }
    }
}
