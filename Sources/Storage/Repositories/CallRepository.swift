import Foundation
import SQLKit
import SwitchboardCore

/// Calls and the raw PBX events they were built from.
public struct CallRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    /// Stores a raw event unless one with the same `dedupKey` is already stored for the tenant (a PBX
    /// retry or a replay). Returns false for such a duplicate.
    public func recordEvent(
        tenantID: String, callExternalID: String, type: String, source: CallSource, dedupKey: String, payload: String, at time: Date
    ) async throws -> Bool {
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO call_events (id, tenant_id, call_external_id, event_type, source, dedup_key, payload, received_at)
                VALUES (\(bind: Identifiers.newID()), \(bind: tenantID), \(bind: callExternalID), \(bind: type),
                    \(bind: source.rawValue), \(bind: dedupKey), \(bind: payload), \(bind: time))
                ON CONFLICT DO NOTHING RETURNING id
                """
            ).first() != nil
        }
    }

    /// A raw PBX event to store (see ``recordEvents(_:)``).
    public struct RawEvent: Sendable {
        public var tenantID: String
        public var callExternalID: String
        public var type: String
        public var source: CallSource
        public var dedupKey: String
        public var payload: String
        public var at: Date

        public init(tenantID: String, callExternalID: String, type: String, source: CallSource, dedupKey: String, payload: String, at: Date) {
            self.tenantID = tenantID
            self.callExternalID = callExternalID
            self.type = type
            self.source = source
            self.dedupKey = dedupKey
            self.payload = payload
            self.at = at
        }

        /// How ``recordEvents(_:)`` names a stored event: tenant and dedup key.
        public var key: String { tenantID + "|" + dedupKey }
    }

    /// Stores many raw events with one statement a chunk; returns the ``RawEvent/key``s of those that were
    /// new (the others were already stored: duplicates).
    public func recordEvents(_ events: [RawEvent]) async throws -> Set<String> {
        var stored: Set<String> = []
        for chunk in events.chunked(into: 100) {
            let values: [SQLQueryString] = chunk.map { event in
                """
                (\(bind: Identifiers.newID()), \(bind: event.tenantID), \(bind: event.callExternalID), \(bind: event.type),
                 \(bind: event.source.rawValue), \(bind: event.dedupKey), \(bind: event.payload), \(bind: event.at))
                """
            }
            let rowValues = values.joined(separator: ", ")
            let rows = try await runner.run { sql in
                try await sql.raw(
                    """
                    INSERT INTO call_events (id, tenant_id, call_external_id, event_type, source, dedup_key, payload, received_at)
                    VALUES \(rowValues) ON CONFLICT DO NOTHING RETURNING tenant_id, dedup_key
                    """
                ).all()
            }
            for row in rows {
                stored.insert(try row.decode(column: "tenant_id", as: String.self) + "|" + row.decode(column: "dedup_key", as: String.self))
            }
        }
        return stored
    }

    /// The stored calls among `keys` (tenant id, external id), by `tenantID|externalID`.
    public func find(keys: [(tenantID: String, externalID: String)]) async throws -> [String: CallRecord] {
        var found: [String: CallRecord] = [:]
        // Per tenant, so the (tenant_id, external_id) index serves the lookup.
        for (tenantID, entries) in Dictionary(grouping: keys, by: \.tenantID) {
            for chunk in Array(Set(entries.map(\.externalID))).chunked(into: 200) {
                let list = chunk.map { SQLQueryString("\(bind: $0)") }.joined(separator: ", ")
                let rows = try await runner.run { sql in
                    try await sql.raw("SELECT * FROM calls WHERE tenant_id = \(bind: tenantID) AND external_id IN (\(list))").all()
                }
                for row in rows {
                    let record = try Self.decode(row)
                    found[record.tenantID + "|" + record.call.externalID] = record
                }
            }
        }
        return found
    }

    /// A call's raw events in arrival order.
    public func events(tenantID: String, callExternalID: String) async throws -> [(type: String, source: String, payload: String, receivedAt: Date)] {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT event_type, source, payload, received_at FROM call_events
                WHERE tenant_id = \(bind: tenantID) AND call_external_id = \(bind: callExternalID) ORDER BY received_at, id
                """
            ).all()
        }.map {
            (try $0.decode(column: "event_type", as: String.self), try $0.decode(column: "source", as: String.self),
             try $0.decode(column: "payload", as: String.self), try $0.date("received_at"))
        }
    }

    public func find(tenantID: String, externalID: String) async throws -> CallRecord? {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM calls WHERE tenant_id = \(bind: tenantID) AND external_id = \(bind: externalID)").first()
        }.map(Self.decode)
    }

    public func find(tenantID: String, id: String) async throws -> CallRecord? {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM calls WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").first()
        }.map(Self.decode)
    }

    /// Inserts or replaces the call with the record's (tenant, external id).
    public func save(_ record: CallRecord) async throws {
        try await save([record])
    }

    /// Inserts or replaces many calls, one statement a chunk (each (tenant, external id) at most once).
    public func save(_ records: [CallRecord]) async throws {
        let now = Date.storageNow
        for chunk in records.chunked(into: 40) {
            var values: [SQLQueryString] = []
            for record in chunk {
                let call = record.call
                let extensions = String(decoding: try JSONEncoder().encode(call.extensions), as: UTF8.self)
                values.append(
                    """
                    (\(bind: record.id), \(bind: record.tenantID), \(bind: call.externalID), \(bind: record.source.rawValue),
                        \(bind: call.direction.rawValue), \(bind: call.customerPhone), \(bind: call.trunk), \(bind: extensions),
                        \(bind: call.answeredBy), \(bind: record.progress.rawValue),
                        \(bind: record.progress == .completed ? call.outcome.rawValue : nil),
                        \(bind: call.startedAt.roundedToMilliseconds), \(bind: call.answeredAt?.roundedToMilliseconds),
                        \(bind: call.endedAt?.roundedToMilliseconds), \(bind: call.duration), \(bind: call.billsec), \(bind: call.recordingURL),
                        \(bind: record.dialSeen), \(bind: record.createdAt), \(bind: now))
                    """)
            }
            let rowValues = values.joined(separator: ", ")
            try await runner.run { sql in
                try await sql.raw(
                    """
                    INSERT INTO calls (id, tenant_id, external_id, source, direction, customer_phone, trunk, extensions, answered_by,
                        state, outcome, started_at, answered_at, ended_at, duration, billsec, recording_url, dial_seen, created_at, updated_at)
                    VALUES \(rowValues)
                    ON CONFLICT (tenant_id, external_id) DO UPDATE SET source = excluded.source, direction = excluded.direction,
                        customer_phone = excluded.customer_phone, trunk = excluded.trunk, extensions = excluded.extensions,
                        answered_by = excluded.answered_by, state = excluded.state, outcome = excluded.outcome,
                        started_at = excluded.started_at, answered_at = excluded.answered_at, ended_at = excluded.ended_at,
                        duration = excluded.duration, billsec = excluded.billsec, recording_url = excluded.recording_url,
                        dial_seen = excluded.dial_seen, updated_at = excluded.updated_at
                    """
                ).run()
            }
        }
    }

    /// Filters for ``list(_:)``.
    public struct Filter: Sendable {
        public var tenantID: String
        public var from: Date?
        public var to: Date?
        public var outcome: CallOutcome?
        public var direction: CallDirection?
        public var limit: Int

        public init(tenantID: String, from: Date? = nil, to: Date? = nil, outcome: CallOutcome? = nil, direction: CallDirection? = nil, limit: Int = 50) {
            self.tenantID = tenantID
            self.from = from
            self.to = to
            self.outcome = outcome
            self.direction = direction
            self.limit = limit
        }
    }

    /// Calls, newest first.
    public func list(_ filter: Filter) async throws -> [CallRecord] {
        try await runner.run { sql in
            var query = SQLQueryString("SELECT * FROM calls WHERE tenant_id = \(bind: filter.tenantID)")
            if let from = filter.from { query = query + " AND started_at >= \(bind: from)" }
            if let to = filter.to { query = query + " AND started_at < \(bind: to)" }
            if let outcome = filter.outcome { query = query + " AND outcome = \(bind: outcome.rawValue)" }
            if let direction = filter.direction { query = query + " AND direction = \(bind: direction.rawValue)" }
            query = query + " ORDER BY started_at DESC, id LIMIT \(literal: min(max(filter.limit, 1), 1000))"
            return try await sql.raw(query).all()
        }.map(Self.decode)
    }

    /// Marks the call changed now (something about it was learned elsewhere, e.g. the CRM's id for it).
    public func touch(tenantID: String, id: String) async throws {
        try await runner.run { sql in
            try await sql.raw("UPDATE calls SET updated_at = \(bind: Date.storageNow) WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
        }
    }

    /// Calls changed after `after` (their `updated_at`, then id), oldest change first — a keyset for copying
    /// the call log elsewhere without missing or repeating a call.
    public func changed(tenantID: String, after: (updatedAt: Date, id: String)?, limit: Int) async throws -> [CallRecord] {
        try await runner.run { sql in
            var query = SQLQueryString("SELECT * FROM calls WHERE tenant_id = \(bind: tenantID)")
            if let after {
                query = query + " AND (updated_at > \(bind: after.updatedAt) OR (updated_at = \(bind: after.updatedAt) AND id > \(bind: after.id)))"
            }
            query = query + " ORDER BY updated_at, id LIMIT \(literal: min(max(limit, 1), 1000))"
            return try await sql.raw(query).all()
        }.map(Self.decode)
    }

    /// Extensions that took part in the tenant's latest `calls` calls, for the PBX extension list when AMI
    /// cannot list endpoints.
    public func recentExtensions(tenantID: String, calls: Int = 2000) async throws -> Set<String> {
        let rows = try await runner.run { sql in
            try await sql.raw(
                """
                SELECT extensions, answered_by FROM calls WHERE tenant_id = \(bind: tenantID)
                ORDER BY started_at DESC LIMIT \(literal: max(1, calls))
                """
            ).all()
        }
        var seen: Set<String> = []
        for row in rows {
            let listed = (try? JSONDecoder().decode([String].self, from: Data(try row.decode(column: "extensions", as: String.self).utf8))) ?? []
            seen.formUnion(listed)
            if let answered = try row.decode(column: "answered_by", as: String?.self) { seen.insert(answered) }
        }
        return seen
    }

    /// Completed calls started in `[from, to)`, oldest first, at most `limit` (for replays).
    public func completed(tenantID: String, from: Date, to: Date, limit: Int) async throws -> [CallRecord] {
        try await runner.run { sql in
            try await sql.raw(
                """
                SELECT * FROM calls WHERE tenant_id = \(bind: tenantID) AND state = 'completed'
                AND started_at >= \(bind: from) AND started_at < \(bind: to) ORDER BY started_at, id LIMIT \(literal: max(1, limit))
                """
            ).all()
        }.map(Self.decode)
    }

    static func decode(_ row: any SQLRow) throws -> CallRecord {
        let extensions = try JSONDecoder().decode([String].self, from: Data(try row.decode(column: "extensions", as: String.self).utf8))
        let progress = CallProgress(rawValue: try row.decode(column: "state", as: String.self)) ?? .ringing
        let call = Call(
            externalID: try row.decode(column: "external_id", as: String.self),
            direction: CallDirection(rawValue: try row.decode(column: "direction", as: String.self)) ?? .inbound,
            customerPhone: try row.decode(column: "customer_phone", as: String?.self),
            trunk: try row.decode(column: "trunk", as: String?.self), extensions: extensions,
            answeredBy: try row.decode(column: "answered_by", as: String?.self),
            startedAt: try row.date("started_at"), answeredAt: try row.optionalDate("answered_at"), endedAt: try row.optionalDate("ended_at"),
            duration: try row.decode(column: "duration", as: Int.self), billsec: try row.decode(column: "billsec", as: Int.self),
            outcome: try row.decode(column: "outcome", as: String?.self).flatMap(CallOutcome.init(rawValue:)) ?? .unknown,
            recordingURL: try row.decode(column: "recording_url", as: String?.self))
        return CallRecord(
            id: try row.decode(column: "id", as: String.self), tenantID: try row.decode(column: "tenant_id", as: String.self),
            source: CallSource(rawValue: try row.decode(column: "source", as: String.self)) ?? .http, progress: progress,
            dialSeen: try row.decode(column: "dial_seen", as: Bool.self), call: call,
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }
}
