import Foundation
import SQLKit
import SwitchboardCore

/// `people`: the company app's people and where each stands in the CRM.
public struct PersonRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    /// A person to create, with the `Idempotency-Key` it came with (and a hash of its body).
    public struct NewPerson: Sendable {
        public var externalID: String?
        public var fullName: String
        public var phone: String?
        public var email: String?
        public var stage: String
        public var fields: [String: JSONValue]
        public var idempotencyKey: String?
        public var requestHash: String?

        public init(
            externalID: String?, fullName: String, phone: String?, email: String?, stage: String, fields: [String: JSONValue],
            idempotencyKey: String? = nil, requestHash: String? = nil
        ) {
            self.externalID = externalID
            self.fullName = fullName
            self.phone = phone
            self.email = email
            self.stage = stage
            self.fields = fields
            self.idempotencyKey = idempotencyKey
            self.requestHash = requestHash
        }

        /// The app-side fields of an existing person (what a PATCH starts from).
        public init(_ person: Person) {
            self.init(
                externalID: person.externalID, fullName: person.fullName, phone: person.phone, email: person.email, stage: person.stage,
                fields: person.fields)
        }

        /// Writes these app-side fields onto `person`.
        public func apply(to person: inout Person) {
            person.externalID = externalID
            person.fullName = fullName
            person.phone = phone
            person.email = email
            person.stage = stage
            person.fields = fields
        }
    }

    /// Inserts a new person. A taken `external_id` is a 409 naming it; an idempotency key another request
    /// has just used is a 409 naming `Idempotency-Key` (the caller then answers like a repeat).
    public func insert(tenantID: String, _ new: NewPerson, crmKind: String) async throws -> Person {
        let now = Date.storageNow
        let id = Identifiers.newID()
        let inserted = try await mapUniqueViolation(field: "external_id", message: "a person with external_id '\(new.externalID ?? "")' already exists") {
            try await runner.run { sql in
                try await sql.raw(
                    """
                    INSERT INTO people (id, tenant_id, external_id, full_name, phone, email, stage, fields, version, crm_kind,
                        sync_status, idempotency_key, request_hash, created_at, updated_at)
                    VALUES (\(bind: id), \(bind: tenantID), \(bind: new.externalID), \(bind: new.fullName), \(bind: new.phone),
                        \(bind: new.email), \(bind: new.stage), \(bind: JSONValue.object(new.fields).jsonText), 1, \(bind: crmKind),
                        'pending', \(bind: new.idempotencyKey), \(bind: new.requestHash), \(bind: now), \(bind: now))
                    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
                    RETURNING id
                    """
                ).first() != nil
            }
        }
        guard inserted else {
            throw SwitchboardError.conflict("Idempotency-Key '\(new.idempotencyKey ?? "")' was just used by another request", field: "Idempotency-Key")
        }
        guard let person = try await find(tenantID: tenantID, id: id) else { throw SwitchboardError.notFound("person") }
        return person
    }

    /// The person created earlier with this idempotency key, and the hash of the body it was created from.
    public func find(tenantID: String, idempotencyKey: String) async throws -> (Person, String?)? {
        let row = try await runner.run { sql in
            try await sql.raw("SELECT * FROM people WHERE tenant_id = \(bind: tenantID) AND idempotency_key = \(bind: idempotencyKey)").first()
        }
        guard let row else { return nil }
        return (try Self.decode(row), try row.decode(column: "request_hash", as: String?.self))
    }

    public func find(tenantID: String, id: String) async throws -> Person? {
        try await runner.run { sql in
            try await sql.raw("SELECT * FROM people WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").first()
        }.map(Self.decode)
    }

    /// By our id or the app's `external_id`. With `forUpdate` (inside a transaction) the row stays locked
    /// until it ends on PostgreSQL; SQLite's write transaction already excludes other writers.
    public func find(tenantID: String, key: String, forUpdate: Bool = false) async throws -> Person? {
        let lock: SQLQueryString = forUpdate && runner.backend == .postgres ? " FOR UPDATE" : ""
        return try await runner.run { sql in
            try await sql.raw(
                "SELECT * FROM people WHERE tenant_id = \(bind: tenantID) AND (id = \(bind: key) OR external_id = \(bind: key)) ORDER BY CASE WHEN id = \(bind: key) THEN 0 ELSE 1 END LIMIT 1" + lock
            ).first()
        }.map(Self.decode)
    }

    /// Live people, newest first, optionally by stage and sync status; `after` is the last id of the previous page.
    public func list(tenantID: String, stage: String?, syncStatus: PersonCRMState.Status?, limit: Int, after: (Date, String)?) async throws -> [Person] {
        var query: SQLQueryString = "SELECT * FROM people WHERE tenant_id = \(bind: tenantID) AND deleted_at IS NULL"
        if let stage { query = query + " AND stage = \(bind: stage)" }
        if let syncStatus { query = query + " AND sync_status = \(bind: syncStatus.rawValue)" }
        if let (created, id) = after {
            query = query + " AND (created_at < \(bind: created) OR (created_at = \(bind: created) AND id < \(bind: id)))"
        }
        query = query + " ORDER BY created_at DESC, id DESC LIMIT \(bind: limit)"
        let final = query
        return try await runner.run { sql in try await sql.raw(final).all() }.map(Self.decode)
    }

    /// Saves the app-side fields of `person` as a new version: the CRM must catch up (pending, attempts reset).
    public func saveChange(_ person: Person) async throws -> Person {
        let now = Date.storageNow
        try await mapUniqueViolation(field: "external_id", message: "a person with external_id '\(person.externalID ?? "")' already exists") {
            try await runner.run { sql in
                try await sql.raw(
                    """
                    UPDATE people SET external_id = \(bind: person.externalID), full_name = \(bind: person.fullName), phone = \(bind: person.phone),
                        email = \(bind: person.email), stage = \(bind: person.stage), fields = \(bind: JSONValue.object(person.fields).jsonText),
                        deleted_at = \(bind: person.deletedAt), version = version + 1, sync_status = 'pending', sync_reason = NULL,
                        sync_attempts = 0, updated_at = \(bind: now)
                    WHERE tenant_id = \(bind: person.tenantID) AND id = \(bind: person.id)
                    """
                ).run()
            }
        }
        guard let saved = try await find(tenantID: person.tenantID, id: person.id) else { throw SwitchboardError.notFound("person") }
        return saved
    }

    // MARK: CRM side

    /// Takes the right to write this person to the CRM until `until` (one writer per person: creates never race).
    public func acquireLease(tenantID: String, id: String, until: Date) async throws -> Bool {
        try await !acquireLeases(tenantID: tenantID, ids: [id], until: until).isEmpty
    }

    /// Takes those of `ids` whose lease is free, in one statement; returns the ids taken.
    public func acquireLeases(tenantID: String, ids: [String], until: Date) async throws -> [String] {
        guard !ids.isEmpty else { return [] }
        let now = Date.storageNow
        return try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE people SET lease_until = \(bind: until)
                WHERE tenant_id = \(bind: tenantID) AND id IN (\(binds: ids)) AND (lease_until IS NULL OR lease_until < \(bind: now))
                RETURNING id
                """
            ).all()
        }.map { try $0.decode(column: "id", as: String.self) }
    }

    /// How many of the tenant's people the CRM has caught up with.
    public func countSynced(tenantID: String) async throws -> Int {
        try await runner.run { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM people WHERE tenant_id = \(bind: tenantID) AND sync_status = 'synced'").first()?
                .decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// People of a tenant whose CRM is behind and who are free to take: not failed, no live lease,
    /// oldest change first (a writer takes them along with its own person, to share batch requests).
    public func outOfStep(tenantID: String, excluding id: String, limit: Int) async throws -> [Person] {
        let now = Date.storageNow
        return try await runner.run { sql in
            try await sql.raw(
                """
                SELECT * FROM people
                WHERE tenant_id = \(bind: tenantID) AND sync_status = 'pending' AND version > synced_version AND id <> \(bind: id)
                    AND (lease_until IS NULL OR lease_until < \(bind: now))
                ORDER BY updated_at, id LIMIT \(bind: limit)
                """
            ).all()
        }.map(Self.decode)
    }

    public func releaseLeases(tenantID: String, ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await runner.run { sql in
            try await sql.raw("UPDATE people SET lease_until = NULL WHERE tenant_id = \(bind: tenantID) AND id IN (\(binds: ids))").run()
        }
    }

    /// Counts one CRM attempt for the current change; returns the count.
    public func countAttempt(tenantID: String, id: String) async throws -> Int {
        let now = Date.storageNow
        return try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE people SET sync_attempts = sync_attempts + 1, last_attempt_at = \(bind: now)
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING sync_attempts
                """
            ).first()?.decode(column: "sync_attempts", as: Int.self) ?? 0
        }
    }

    /// Records the CRM's id for the person the moment the CRM gave it (before anything else can fail).
    public func setLead(tenantID: String, id: String, kind: String, leadID: String) async throws {
        try await runner.run { sql in
            try await sql.raw(
                "UPDATE people SET crm_kind = \(bind: kind), crm_lead_id = \(bind: leadID) WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)"
            ).run()
        }
    }

    /// The CRM accepted `version` with these values.
    public func markSynced(tenantID: String, id: String, version: Int, pushed: [String: JSONValue]) async throws {
        try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE people SET synced_version = \(bind: version), pushed = \(bind: JSONValue.object(pushed).jsonText),
                    sync_status = CASE WHEN version = \(bind: version) THEN 'synced' ELSE sync_status END, sync_reason = NULL
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) AND synced_version < \(bind: version)
                """
            ).run()
        }
    }

    /// The CRM refused the change, or kept failing until the attempts ran out.
    public func markFailed(tenantID: String, id: String, version: Int, reason: String) async throws {
        try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE people SET sync_status = 'failed', sync_reason = \(bind: String(reason.prefix(1000)))
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) AND version = \(bind: version)
                """
            ).run()
        }
    }

    static func decode(_ row: any SQLRow) throws -> Person {
        let fields = JSONValue(jsonText: try row.decode(column: "fields", as: String.self))?.objectValue ?? [:]
        let pushed = JSONValue(jsonText: try row.decode(column: "pushed", as: String.self))?.objectValue ?? [:]
        let crm = PersonCRMState(
            kind: try row.decode(column: "crm_kind", as: String?.self), leadID: try row.decode(column: "crm_lead_id", as: String?.self),
            status: PersonCRMState.Status(rawValue: try row.decode(column: "sync_status", as: String.self)) ?? .pending,
            reason: try row.decode(column: "sync_reason", as: String?.self), attempts: try row.decode(column: "sync_attempts", as: Int.self),
            lastAttemptAt: try row.optionalDate("last_attempt_at"), syncedVersion: try row.decode(column: "synced_version", as: Int.self),
            pushed: pushed)
        return Person(
            id: try row.decode(column: "id", as: String.self), tenantID: try row.decode(column: "tenant_id", as: String.self),
            externalID: try row.decode(column: "external_id", as: String?.self), fullName: try row.decode(column: "full_name", as: String.self),
            phone: try row.decode(column: "phone", as: String?.self), email: try row.decode(column: "email", as: String?.self),
            stage: try row.decode(column: "stage", as: String.self), fields: fields, version: try row.decode(column: "version", as: Int.self),
            crm: crm, deletedAt: try row.optionalDate("deleted_at"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}

/// `people_events`: what happened to people, in order per tenant — the app's reply feed (`GET …/events?since=`).
/// Each append takes the tenant's next number from `people_feed` in the same transaction; the row lock on
/// that counter makes numbers commit in order, so a reader never skips an event that commits late.
public struct PeopleFeedRepository: Sendable {
    let runner: any SQLRunner

    public init(_ runner: any SQLRunner) {
        self.runner = runner
    }

    public struct Event: Sendable, Equatable {
        public var seq: Int64
        public var personID: String
        public var type: String
        public var body: JSONValue
        public var createdAt: Date
    }

    /// Appends an event; call inside the transaction that makes the change it reports.
    @discardableResult
    public func append(tenantID: String, personID: String, type: String, body: JSONValue) async throws -> Int64 {
        let now = Date.storageNow
        return try await runner.run { sql in
            let seq = try await sql.raw(
                """
                INSERT INTO people_feed (tenant_id, last_seq) VALUES (\(bind: tenantID), 1)
                ON CONFLICT (tenant_id) DO UPDATE SET last_seq = people_feed.last_seq + 1 RETURNING last_seq
                """
            ).first()?.decode(column: "last_seq", as: Int64.self) ?? 0
            try await sql.raw(
                """
                INSERT INTO people_events (tenant_id, seq, person_id, type, body, created_at)
                VALUES (\(bind: tenantID), \(bind: seq), \(bind: personID), \(bind: type), \(bind: body.jsonText), \(bind: now))
                """
            ).run()
            return seq
        }
    }

    public func list(tenantID: String, since: Int64, limit: Int) async throws -> [Event] {
        try await runner.run { sql in
            try await sql.raw(
                "SELECT * FROM people_events WHERE tenant_id = \(bind: tenantID) AND seq > \(bind: since) ORDER BY seq LIMIT \(bind: limit)"
            ).all()
        }.map { row in
            Event(
                seq: try row.decode(column: "seq", as: Int64.self), personID: try row.decode(column: "person_id", as: String.self),
                type: try row.decode(column: "type", as: String.self),
                body: JSONValue(jsonText: try row.decode(column: "body", as: String.self)) ?? .null, createdAt: try row.date("created_at"))
        }
    }
}

/// `people_settings`: a tenant's stage mapping and reply rules; the callback secret sealed.
public struct PeopleSettingsRepository: Sendable {
    let runner: any SQLRunner
    let secrets: SecretBox

    public init(_ runner: any SQLRunner, secrets: SecretBox) {
        self.runner = runner
        self.secrets = secrets
    }

    static func context(_ tenantID: String) -> String { "people-callback:\(tenantID)" }

    /// The tenant's settings (defaults when none were saved) and its callback secret.
    public func load(tenantID: String) async throws -> (PeopleSettings, callbackSecret: String?) {
        let row = try await runner.run { sql in
            try await sql.raw("SELECT settings, callback_secret FROM people_settings WHERE tenant_id = \(bind: tenantID)").first()
        }
        guard let row else { return (PeopleSettings(), nil) }
        let json = JSONValue(jsonText: try row.decode(column: "settings", as: String.self))?.objectValue ?? [:]
        let settings = (try? PeopleSettings(json: json)) ?? PeopleSettings()
        let secret = try row.decode(column: "callback_secret", as: String?.self).map { try secrets.open($0, context: Self.context(tenantID)) }
        return (settings, secret)
    }

    /// Saves settings; `callbackSecret` nil keeps the stored one, an empty string removes it.
    public func save(tenantID: String, _ settings: PeopleSettings, callbackSecret: String?) async throws {
        let current = try await load(tenantID: tenantID).callbackSecret
        let secret = callbackSecret.map { $0.isEmpty ? nil : $0 } ?? current
        let sealed = try secret.map { try secrets.seal($0, context: Self.context(tenantID)) }
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO people_settings (tenant_id, settings, callback_secret, updated_at)
                VALUES (\(bind: tenantID), \(bind: JSONValue.object(settings.json).jsonText), \(bind: sealed), \(bind: Date.storageNow))
                ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, callback_secret = excluded.callback_secret,
                    updated_at = excluded.updated_at
                """
            ).run()
        }
    }
}
