import Foundation
import SQLKit
import Storage
import SwitchboardCore

/// A worker process as `GET /api/v1/workers` shows it.
public struct WorkerInfo: Sendable, Equatable {
    public var id: String
    public var hostname: String
    public var pid: Int
    public var concurrency: Int
    public var inFlight: Int
    public var startedAt: Date
    public var heartbeatAt: Date
    public var stoppedAt: Date?

    /// Alive when it beat recently and has not stopped.
    public func isAlive(now: Date = Date(), within: TimeInterval = 30) -> Bool {
        stoppedAt == nil && now.timeIntervalSince(heartbeatAt) < within
    }
}

/// The `workers` table: registration, heartbeats, and the list of workers.
public struct WorkerRegistry: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    func register(id: String, concurrency: Int) async throws {
        let now = Date.storageNow
        try await database.run { sql in
            try await sql.raw(
                """
                INSERT INTO workers (id, hostname, pid, concurrency, in_flight, started_at, heartbeat_at)
                VALUES (\(bind: id), \(bind: ProcessInfo.processInfo.hostName), \(bind: Int(ProcessInfo.processInfo.processIdentifier)),
                    \(bind: concurrency), 0, \(bind: now), \(bind: now))
                """
            ).run()
        }
    }

    func beat(id: String, inFlight: Int) async throws {
        try await database.run { sql in
            try await sql.raw(
                "UPDATE workers SET heartbeat_at = \(bind: Date.storageNow), in_flight = \(bind: inFlight) WHERE id = \(bind: id)"
            ).run()
        }
    }

    func stop(id: String) async throws {
        try await database.run { sql in
            try await sql.raw(
                "UPDATE workers SET stopped_at = \(bind: Date.storageNow), in_flight = 0 WHERE id = \(bind: id)"
            ).run()
        }
    }

    /// Workers seen in the last `since` seconds, newest first.
    public func recent(since: TimeInterval = 3600) async throws -> [WorkerInfo] {
        let cutoff = Date.storageNow.addingTimeInterval(-since)
        return try await database.run { sql in
            try await sql.raw("SELECT * FROM workers WHERE heartbeat_at > \(bind: cutoff) ORDER BY started_at DESC").all()
        }.map { row in
            WorkerInfo(
                id: try row.decode(column: "id", as: String.self),
                hostname: try row.decode(column: "hostname", as: String.self),
                pid: try row.decode(column: "pid", as: Int.self),
                concurrency: try row.decode(column: "concurrency", as: Int.self),
                inFlight: try row.decode(column: "in_flight", as: Int.self),
                startedAt: try row.date("started_at"),
                heartbeatAt: try row.date("heartbeat_at"),
                stoppedAt: try row.optionalDate("stopped_at"))
        }
    }
}
