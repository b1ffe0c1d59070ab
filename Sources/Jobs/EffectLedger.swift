import Foundation
import SQLKit
import Storage
import SwitchboardCore

/// Records each external effect (a CRM call, a task created, a file uploaded) once per tenant and
/// idempotency key, e.g. `retailcrm:call-event:<call id>:hangup`.
///
/// A job that runs again — after a retry, a lease expiry or a worker killed mid-job — finds the record
/// and returns the stored result instead of repeating the effect. The window that remains is a crash
/// after the CRM accepted the request and before the record was written; there the CRM's own
/// idempotency (external ids) has to absorb the repeat, and the ledger still records the effect once.
public struct EffectLedger: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    /// The outcome of ``once(tenantID:key:kind:jobID:perform:)``.
    public struct Outcome: Sendable, Equatable {
        public var result: JSONValue
        /// True when the effect had been recorded before and `perform` did not run.
        public var replayed: Bool

        public init(result: JSONValue, replayed: Bool) {
            self.result = result
            self.replayed = replayed
        }
    }

    /// Runs `perform` unless an effect with `key` is already recorded for the tenant, then records it.
    public func once(
        tenantID: String, key: String, kind: String, jobID: String? = nil, perform: () async throws -> JSONValue
    ) async throws -> Outcome {
        guard !key.isEmpty, key.count <= 500 else { throw SwitchboardError.invalid("idempotency_key", "must be 1–500 characters") }
        if let recorded = try await find(tenantID: tenantID, key: key) { return Outcome(result: recorded, replayed: true) }
        let result = try await perform()
        let text = try JSONCoder.string(result)
        let now = Date.storageNow
        let inserted = try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO external_effects (tenant_id, idempotency_key, kind, job_id, result, recorded_at)
                VALUES (\(bind: tenantID), \(bind: key), \(bind: kind), \(bind: jobID), \(bind: text), \(bind: now))
                ON CONFLICT DO NOTHING RETURNING idempotency_key
                """
            ).first()
        }
        if inserted == nil, let first = try await find(tenantID: tenantID, key: key) {
            // Another run recorded it in the meantime: the first record stands.
            return Outcome(result: first, replayed: true)
        }
        return Outcome(result: result, replayed: false)
    }

    /// The stored result of a recorded effect.
    public func find(tenantID: String, key: String) async throws -> JSONValue? {
        let row = try await runner.run { sql in
            try await sql.raw(
                "SELECT result FROM external_effects WHERE tenant_id = \(bind: tenantID) AND idempotency_key = \(bind: key)"
            ).first()
        }
        return try row.map { try JSONCoder.value(try $0.decode(column: "result", as: String.self)) }
    }

    /// The stored results of the recorded effects among `keys`, by key.
    public func find(tenantID: String, keys: [String]) async throws -> [String: JSONValue] {
        guard !keys.isEmpty else { return [:] }
        let rows = try await runner.run { sql in
            try await sql.select().columns("idempotency_key", "result").from("external_effects")
                .where("tenant_id", .equal, tenantID).where("idempotency_key", .in, keys).all()
        }
        var found: [String: JSONValue] = [:]
        for row in rows {
            found[try row.decode(column: "idempotency_key", as: String.self)] = try JSONCoder.value(try row.decode(column: "result", as: String.self))
        }
        return found
    }

    /// How many effects the tenant has recorded under keys starting with `prefix`.
    public func count(tenantID: String, prefix: String = "") async throws -> Int {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT COUNT(*) AS n FROM external_effects
                WHERE tenant_id = \(bind: tenantID) AND idempotency_key LIKE \(bind: Self.likePrefix(prefix)) ESCAPE '\\'
                """
            ).first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// Deletes records older than `cutoff` (after that a repeat is no longer suppressed).
    @discardableResult
    public func prune(recordedBefore cutoff: Date) async throws -> Int {
        try await runner.run { sql in
            try await sql.raw("DELETE FROM external_effects WHERE recorded_at < \(bind: cutoff) RETURNING tenant_id").all().count
        }
    }

    private static func likePrefix(_ prefix: String) -> String {
        prefix.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
    }
}
