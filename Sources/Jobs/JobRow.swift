import Foundation
import SQLKit
import Storage
import SwitchboardCore

/// Shared JSON coding for job payloads and results.
enum JSONCoder {
    static func string(_ value: JSONValue) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func value(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}

/// Reads a `jobs` row.
enum JobRow {
    static func decode(_ row: any SQLRow) throws -> Job {
        let stateName = try row.decode(column: "state", as: String.self)
        return Job(
            id: try row.decode(column: "id", as: String.self),
            tenantID: try row.decode(column: "tenant_id", as: String?.self),
            kind: try row.decode(column: "kind", as: String.self),
            payload: try JSONCoder.value(try row.decode(column: "payload", as: String.self)),
            priority: try row.decode(column: "priority", as: Int.self),
            state: JobState(rawValue: stateName) ?? .dead,
            runAt: try row.date("run_at"),
            attempt: try row.decode(column: "attempt", as: Int.self),
            maxAttempts: try row.decode(column: "max_attempts", as: Int.self),
            uniqueKey: try row.decode(column: "unique_key", as: String?.self),
            leaseOwner: try row.decode(column: "lease_owner", as: String?.self),
            leaseExpiresAt: try row.optionalDate("lease_expires_at"),
            lastError: try row.decode(column: "last_error", as: String?.self),
            result: try row.decode(column: "result", as: String?.self).map(JSONCoder.value),
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"),
            finishedAt: try row.optionalDate("finished_at"))
    }
}
