import Access
import AmoCRM
import Bitrix24
import Foundation
import Jobs
import Logging
import Storage
import SwitchboardCore

/// The `people.crm-sync` job: brings one person's lead in the CRM up to the person's latest version.
///
/// - One writer per person: the job takes a lease on the person row; a second job for the same person
///   is deferred a second (without using an attempt) — so a move waits for a pending create, and creates
///   never race.
/// - Exactly once: the lead carries our correlation key; before creating, the job looks for a lead with
///   it (a create whose answer was lost), and the lead id is recorded the moment the CRM gives it.
/// - The seed's retries: `maxAttempts` CRM attempts per change with `backoffSeconds` between them, then
///   `failed` with the reason; a refusal by the CRM (validation) fails at once with the CRM's message.
public struct PeopleSync: Sendable {
    public static let kind = "people.crm-sync"
    /// How long a job may hold a person; a crashed worker's lease runs out after it.
    static let lease: TimeInterval = 120

    public let database: Database
    public let secrets: SecretBox
    public let bitrix24: Bitrix24Access
    public let amoCRM: AmoCRMAccess
    /// Test hook: runs after the CRM created a lead and before the id is recorded (a crash there must not duplicate it).
    public var afterCreate: @Sendable (String) async throws -> Void = { _ in }

    public init(database: Database, secrets: SecretBox, bitrix24: Bitrix24Access, amoCRM: AmoCRMAccess) {
        self.database = database
        self.secrets = secrets
        self.bitrix24 = bitrix24
        self.amoCRM = amoCRM
    }

    /// The tenant's CRM as people are written to it.
    enum Connection: Sendable {
        /// Bitrix24, its calls shared in batches with the other people being written.
        case bitrix24(Bitrix24Client)
        /// amoCRM, with the id of the field holding our correlation key and the pipeline of new leads.
        case amocrm(AmoCRMClient, correlationFieldID: Int, pipelineID: Int?)
    }

    /// One job per version; a job finding the person already in step does nothing.
    public static func job(_ person: Person) -> JobQueue.NewJob {
        .init(
            kind: kind, tenantID: person.tenantID, payload: ["person_id": .string(person.id), "version": .number(Double(person.version))],
            // The person's own limit (`max_attempts`, ≤ 10) decides when a CRM error is final; lease waits
            // are deferrals and cost nothing. The margin is for our own failures (database, timeouts).
            priority: 30, maxAttempts: 25, uniqueKey: "people:\(person.tenantID):\(person.id):\(person.version)")
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(Self.kind, policy: .standard, timeout: .seconds(90)) { context in
            guard let tenantID = context.job.tenantID, let personID = context.job.payload.objectValue?["person_id"]?.stringValue else {
                throw JobFailure.permanent("\(Self.kind) needs a tenant and payload.person_id")
            }
            return try await run(tenantID: tenantID, personID: personID, logger: context.logger)
        }
    }

    /// Brings the person's lead in step; returns what was done. Up to ``groupSize`` − 1 other people of
    /// the tenant whose CRM is behind go along (their leases taken too): their calls share `batch`
    /// requests, so a burst of creates costs ~2 portal requests per 50 people instead of 2–3 per person.
    public func run(tenantID: String, personID: String, logger: Logger) async throws -> JSONValue {
        let people = PersonRepository(database)
        let until = Date().addingTimeInterval(Self.lease)
        guard try await people.acquireLease(tenantID: tenantID, id: personID, until: until) else {
            guard try await people.find(tenantID: tenantID, id: personID) != nil else { throw JobFailure.permanent("person \(personID) is gone") }
            throw JobFailure.deferred("another job is writing this person", until: .seconds(1))
        }
        var held = [personID]
        let own: Result<JSONValue, any Error>
        do {
            let (settings, _) = try await PeopleSettingsRepository(database, secrets: secrets).load(tenantID: tenantID)
            let crm: Result<Connection, any Error>
            do { crm = .success(try await self.connection(tenantID: tenantID, settings: settings)) } catch { crm = .failure(error) }
            held += try await takeCompanions(tenantID: tenantID, personID: personID, settings: settings, until: until)
            // Every person runs to its end (no cancelling a CRM write half-way); then our own outcome counts.
            own = await withTaskGroup(of: Result<JSONValue, any Error>?.self) { group in
                for id in held {
                    group.addTask {
                        do {
                            let answer = try await self.syncLoop(tenantID: tenantID, personID: id, settings: settings, crm: crm, logger: logger)
                            return id == personID ? .success(answer) : nil
                        } catch {
                            guard id == personID else {
                                // A companion that cannot be written now is left to its own job, which retries it.
                                logger.debug("person left to its own job", metadata: ["person": "\(id)", "error": "\(JobFailure(error).message)"])
                                return nil
                            }
                            return .failure(error)
                        }
                    }
                }
                var own: Result<JSONValue, any Error> = .success(.null)
                for await answer in group { if let answer { own = answer } }
                return own
            }
        } catch {
            own = .failure(error)
        }
        try await people.releaseLeases(tenantID: tenantID, ids: held)
        let result = try own.get()
        guard held.count > 1, var object = result.objectValue else { return result }
        object["along"] = .number(Double(held.count - 1))
        return .object(object)
    }

    /// How many people one job writes at most (one `batch` holds 50 commands).
    static let groupSize = 50

    /// Leases other people of the tenant that are due for a CRM attempt; returns their ids.
    private func takeCompanions(tenantID: String, personID: String, settings: PeopleSettings, until: Date) async throws -> [String] {
        let people = PersonRepository(database)
        let due = try await people.outOfStep(tenantID: tenantID, excluding: personID, limit: Self.groupSize * 2)
            .filter { Self.due($0, settings: settings) == nil }.prefix(Self.groupSize - 1).map(\.id)
        return try await people.acquireLeases(tenantID: tenantID, ids: Array(due), until: until)
    }

    /// How long the person's next CRM attempt must still wait (the seed's backoff), nil when it may go now.
    static func due(_ person: Person, settings: PeopleSettings, now: Date = Date()) -> Duration? {
        guard person.crm.attempts > 0, let last = person.crm.lastAttemptAt else { return nil }
        let wait = last.addingTimeInterval(settings.backoff(afterAttempt: person.crm.attempts).inSeconds).timeIntervalSince(now)
        return wait > 0.001 ? .milliseconds(Int64(wait * 1000)) : nil
    }

    private func syncLoop(
        tenantID: String, personID: String, settings: PeopleSettings, crm: Result<Connection, any Error>, logger: Logger
    ) async throws -> JSONValue {
        let people = PersonRepository(database)
        var done: [JSONValue] = []
        // A change that lands while we write is picked up by the next pass (its own job then finds nothing to do).
        for _ in 0..<5 {
            guard let person = try await people.find(tenantID: tenantID, id: personID) else { throw JobFailure.permanent("person \(personID) is gone") }
            guard person.crm.syncedVersion < person.version, person.crm.status != .failed || person.crm.attempts == 0 else { break }
            if let wait = Self.due(person, settings: settings) { throw JobFailure.deferred("waiting out the retry backoff", until: wait) }
            let outcome = try await attempt(person, settings: settings, crm: crm, logger: logger)
            done.append(outcome)
            if outcome.objectValue?["status"]?.stringValue != "success" { break }
        }
        return ["passes": .array(done)]
    }

    /// One CRM attempt for the person's current version: success, failure recorded, or a retry thrown.
    private func attempt(
        _ person: Person, settings: PeopleSettings, crm: Result<Connection, any Error>, logger: Logger
    ) async throws -> JSONValue {
        let people = PersonRepository(database)
        let values = Self.values(person, settings: settings)
        let action =
            person.deletedAt != nil ? "delete_card"
            : person.crm.leadID == nil ? "create_card"
            : person.crm.pushed["status"] != values["status"] ? "move_card" : "update_card"
        let attempts = try await people.countAttempt(tenantID: person.tenantID, id: person.id)
        do {
            let writer = try Self.writer(for: person, settings: settings, crm: try crm.get())
            let leadID = try await write(person, values: values, writer: writer, settings: settings)
            try await people.markSynced(tenantID: person.tenantID, id: person.id, version: person.version, pushed: values)
            let answer: JSONValue = [
                "status": "success", "action": .string(action), "user": PeopleJSON.user(person),
                Self.replyKey(writer): leadID.map(JSONValue.string) ?? .null,
                "crm": .string(writer.kind), "version": .number(Double(person.version)),
            ]
            try await reply(person, type: "crm.synced", body: answer, settings: settings)
            logger.info("person in step with the CRM", metadata: ["person": "\(person.id)", "lead": "\(leadID ?? "-")", "action": "\(action)"])
            return answer
        } catch {
            let failure = JobFailure(error)
            if case .retryable(let message, let after) = failure, attempts < settings.maxAttempts {
                logger.notice("CRM attempt failed; retrying", metadata: ["person": "\(person.id)", "attempt": "\(attempts)", "error": "\(message)"])
                throw JobFailure.retryable(message, retryAfter: max(after ?? .zero, settings.backoff(afterAttempt: attempts)))
            }
            try await people.markFailed(tenantID: person.tenantID, id: person.id, version: person.version, reason: failure.message)
            let answer: JSONValue = [
                "status": "error", "action": .string(action), "reason": .string(failure.message), "user": PeopleJSON.user(person),
                "attempts": .number(Double(attempts)), "version": .number(Double(person.version)),
            ]
            try await reply(person, type: "crm.failed", body: answer, settings: settings)
            logger.warning("person not written to the CRM", metadata: ["person": "\(person.id)", "reason": "\(failure.message)"])
            return answer
        }
    }

    /// The tenant's CRM for people (`settings.crm`).
    private func connection(tenantID: String, settings: PeopleSettings) async throws -> Connection {
        let integrations = IntegrationRepository(database, secrets: secrets)
        guard let kind = IntegrationKind(rawValue: settings.crm), let integration = try await integrations.find(tenantID: tenantID, kind: kind), integration.enabled else {
            throw JobFailure.permanent("\(settings.crm) is not connected for this tenant: connect it, then change the person again")
        }
        switch kind {
        case .amocrm:
            let client = try amoCRM.client(integration, event: Self.kind)
            var field = integration.settings["people_correlation_field_id"]?.intValue
            if field == nil {
                do {
                    field = try await AmoCRMLeadWriter.ensureCorrelationField(client)
                } catch let error as AmoCRMError {
                    throw error.jobFailure
                }
                _ = try await integrations.save(
                    tenantID: tenantID, kind: .amocrm, change: .init(mergingSettings: ["people_correlation_field_id": .number(Double(field ?? 0))]))
            }
            return .amocrm(client, correlationFieldID: field ?? 0, pipelineID: settings.dealCategory == 0 ? nil : settings.dealCategory)
        default:
            return .bitrix24(try bitrix24.client(integration, event: Self.kind, coalescing: true))
        }
    }

    /// Where the person lives in the CRM: the kind of record it already has, else what the settings say.
    /// A person whose record is in another CRM than the tenant's current one is not moved silently.
    static func writer(for person: Person?, settings: PeopleSettings, crm: Connection) throws -> any LeadWriter {
        let kind = person?.crm.leadID != nil ? person?.crm.kind : nil
        switch crm {
        case .amocrm(let client, let field, let pipeline):
            if let kind, kind != AmoCRMLeadWriter.kind {
                throw JobFailure.permanent("this person's record is in \(kind), but people now go to amoCRM; recreate the person to move it")
            }
            return AmoCRMLeadWriter(client: client, pipelineID: pipeline, correlationFieldID: field)
        case .bitrix24(let client):
            if kind == AmoCRMLeadWriter.kind {
                throw JobFailure.permanent("this person's record is in amoCRM, but people now go to Bitrix24; recreate the person to move it")
            }
            let deal = kind.map { $0 == Bitrix24DealWriter.kind } ?? (settings.entity == "deal")
            return deal ? Bitrix24DealWriter(client: client, category: settings.dealCategory) : Bitrix24LeadWriter(client: client)
        }
    }

    /// The reply's id key: seed 003's `bitrix_lead_id` (`bitrix_deal_id` for deals), `amocrm_lead_id`.
    static func replyKey(_ writer: any LeadWriter) -> String {
        writer.kind == AmoCRMLeadWriter.kind ? "amocrm_lead_id" : "bitrix_\(writer.entity)_id"
    }

    /// Writes the person's current version; returns the lead id.
    private func write(_ person: Person, values: [String: JSONValue], writer: any LeadWriter, settings: PeopleSettings) async throws -> String? {
        let people = PersonRepository(database)
        let correlation = "\(person.tenantID):\(person.id)"
        let leadID = person.crm.leadID
        if person.deletedAt != nil {
            if let leadID, settings.closeOnDelete { try await writer.update(leadID: leadID, ["status": .string(settings.closedStatus)], correlation: nil) }
            return leadID
        }
        // Only a person tried before can have a lead whose answer was lost.
        if leadID == nil, person.crm.lastAttemptAt != nil, let found = try await writer.lead(correlation: correlation) {
            // Created before, its answer lost: adopt it and send what may have changed since.
            try await people.setLead(tenantID: person.tenantID, id: person.id, kind: writer.kind, leadID: found)
            try await writer.update(leadID: found, values, correlation: nil)
            return found
        }
        guard let existing = leadID else {
            var contactID: String?
            if settings.dedup == "link", let duplicate = try await writer.duplicate(phone: person.phone, email: person.email) {
                if duplicate.entity == "LEAD" {
                    try await people.setLead(tenantID: person.tenantID, id: person.id, kind: writer.kind, leadID: duplicate.id)
                    var linked = values
                    linked["phone"] = nil  // it has this phone already; sending it again would add a second one
                    try await writer.update(leadID: duplicate.id, linked, correlation: correlation)
                    return duplicate.id
                }
                contactID = duplicate.id
            }
            let created = try await writer.create(values, correlation: correlation, contactID: contactID, triedBefore: person.crm.lastAttemptAt != nil)
            try await afterCreate(created)
            try await people.setLead(tenantID: person.tenantID, id: person.id, kind: writer.kind, leadID: created)
            return created
        }
        let changed = values.filter { person.crm.pushed[$0.key] != $0.value }
        if !changed.isEmpty { try await writer.update(leadID: existing, changed, correlation: nil) }
        return existing
    }

    /// The lead's values for this person in CRM-neutral keys (what `pushed` remembers).
    static func values(_ person: Person, settings: PeopleSettings) -> [String: JSONValue] {
        var values = person.fields
        values["title"] = .string(person.fullName)
        values["name"] = .string(person.fullName)
        values["status"] = .string(settings.stages[person.stage] ?? person.stage)
        if let phone = person.phone { values["phone"] = .string(phone) }
        if let email = person.email { values["email"] = .string(email) }
        if let source = settings.sourceID, values["SOURCE_ID"] == nil { values["source"] = .string(source) }
        return values
    }

    /// The reply: a feed event and, when the tenant has a callback, a signed POST (its own job, retried).
    private func reply(_ person: Person, type: String, body: JSONValue, settings: PeopleSettings) async throws {
        try await database.transaction { tx in
            let seq = try await PeopleFeedRepository(tx).append(tenantID: person.tenantID, personID: person.id, type: type, body: body)
            if settings.callbackURL != nil {
                _ = try await JobQueue.enqueue(PeopleCallbacks.job(tenantID: person.tenantID, seq: seq), on: tx)
            }
        }
    }
}

extension PeopleSync {
    /// The statuses a stage mapping may use (id → name): Bitrix24's lead statuses or deal pipeline's stages,
    /// or the amoCRM pipeline's statuses.
    public static func statuses(
        _ integration: Integration, bitrix24: Bitrix24Access, amoCRM: AmoCRMAccess, settings: PeopleSettings
    ) async throws -> [String: String] {
        if integration.kind == .amocrm {
            let writer = AmoCRMLeadWriter(
                client: try amoCRM.client(integration, event: "people.settings"), pipelineID: settings.dealCategory == 0 ? nil : settings.dealCategory,
                correlationFieldID: 0)
            return try await writer.statuses()
        }
        return try await writer(for: nil, settings: settings, crm: .bitrix24(bitrix24.client(integration, event: "people.settings"))).statuses()
    }
}
