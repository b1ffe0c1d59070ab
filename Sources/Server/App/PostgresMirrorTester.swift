import Foundation
import Logging
import SQLKit
import Storage
import SwitchboardCore

/// "Test connection" for a tenant's own PostgreSQL (`postgres` integration): the address parses, the
/// server answers and lets us in, and the user may create the mirror's tables in the schema.
public struct PostgresMirrorTester: ConnectionTester {
    let timeout: Duration
    let logger: Logger

    public init(timeout: Duration = .seconds(10), logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    public func test(_ integration: Integration) async -> ConnectionTestResult {
        var checks = [configurationCheck(integration)]
        guard checks[0].ok else { return .init(checks: checks) }
        let mirror: ExternalMirror
        do {
            mirror = try ExternalMirror(integration)
        } catch {
            return .init(checks: checks + [.init(name: "address", ok: false, detail: error.message)])
        }
        let started = ContinuousClock.now
        do {
            // One plain connection: a pool retries and hides why it cannot connect.
            let found = try await mirror.url.withSingleConnection(timeout: timeout, logger: logger) { sql in
                let row = try await sql.raw(
                        """
                        SELECT current_setting('server_version') AS version,
                            EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = \(bind: mirror.schema)) AS schema_exists,
                            CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = \(bind: mirror.schema))
                                THEN has_schema_privilege(\(bind: mirror.schema), 'CREATE')
                                ELSE has_database_privilege(current_database(), 'CREATE') END AS can_create
                        """
                ).first()
                return (
                    try row?.decode(column: "version", as: String.self) ?? "?",
                    try row?.decode(column: "schema_exists", as: Bool.self) ?? false, try row?.decode(column: "can_create", as: Bool.self) ?? false
                )
            }
            let elapsed = ContinuousClock.now - started
            let (version, schemaExists, canCreate) = found
            checks.append(
                .init(
                    name: "connection", ok: true,
                    detail: "PostgreSQL \(version) at \(mirror.url.host):\(mirror.url.port)/\(mirror.url.database) answered in \(elapsed.formatted(.units(allowed: [.milliseconds])))"))
            checks.append(
                .init(
                    name: "permissions", ok: canCreate,
                    detail: canCreate
                        ? "\(mirror.url.username) may create tables in \(schemaExists ? "schema" : "new schema") \(mirror.schema)"
                        : "\(mirror.url.username) may not create \(schemaExists ? "tables in schema \(mirror.schema)" : "schema \(mirror.schema)"): GRANT CREATE ON \(schemaExists ? "SCHEMA \(mirror.schema)" : "DATABASE \(mirror.url.database)") TO \(mirror.url.username)"))
        } catch {
            let text = Database.describe(error)
            let plain = ReachabilityTester.plain(text)
            let detail = plain == text ? text : "\(plain) — \(text)"
            checks.append(.init(name: "connection", ok: false, detail: "\(mirror.url.host):\(mirror.url.port): \(detail)"))
        }
        return .init(checks: checks)
    }
}
