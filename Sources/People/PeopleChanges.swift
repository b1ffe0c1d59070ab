import Foundation
import Jobs
import Storage
import SwitchboardCore

/// The app-facing side of people: each change is committed together with its feed event and the job
/// that carries it to the CRM (one transaction), so nothing is half-done and nothing is lost.
public struct PeopleChanges: Sendable {
    public let queue: JobQueue
    var database: Database { queue.database }

    public init(queue: JobQueue) {
        self.queue = queue
    }

    /// What the app sends to create or change a person, already checked against the tenant's rules.
    public typealias Input = PersonRepository.NewPerson

    /// Creates a person. With an idempotency key, a repeat of the same body returns the first person
    /// (`replayed`), a different body under the same key is a 409.
    public func create(tenantID: String, _ input: Input, idempotencyKey: String?, crm: String) async throws -> (Person, replayed: Bool) {
        let hash = Self.hash(input)
        if let idempotencyKey, let (existing, storedHash) = try await PersonRepository(database).find(tenantID: tenantID, idempotencyKey: idempotencyKey) {
            guard storedHash == hash else {
                throw SwitchboardError.conflict("Idempotency-Key '\(idempotencyKey)' was used for a different body", field: "Idempotency-Key")
            }
            return (existing, true)
        }
        do {
            let person = try await database.transaction { tx in
                var new = input
                new.idempotencyKey = idempotencyKey
                new.requestHash = idempotencyKey == nil ? nil : hash
                let person = try await PersonRepository(tx).insert(tenantID: tenantID, new, crmKind: crm)
                try await record(person, event: "created", on: tx)
                return person
            }
            await queue.notifier.notifyAll()
            return (person, false)
        } catch let error as SwitchboardError where error.field == "Idempotency-Key" {
            // Two requests with one key raced: the loser answers like a repeat.
            if let idempotencyKey, let (existing, storedHash) = try await PersonRepository(database).find(tenantID: tenantID, idempotencyKey: idempotencyKey),
                storedHash == hash
            {
                return (existing, true)
            }
            throw SwitchboardError.conflict("Idempotency-Key '\(idempotencyKey ?? "")' was used for a different body", field: "Idempotency-Key")
        }
    }

    /// Applies `change` to the person as a new version (`event`: updated, moved, deleted); unchanged → no new version.
    public func change(tenantID: String, key: String, event: String, _ change: @Sendable (inout Person) throws -> Void) async throws -> Person {
        let result = try await database.transaction { tx -> (Person, Bool) in
            let people = PersonRepository(tx)
            guard let current = try await people.find(tenantID: tenantID, key: key, forUpdate: true), current.deletedAt == nil else {
                throw SwitchboardError.notFound("person")
            }
            var next = current
            try change(&next)
            guard next != current else { return (current, false) }
            let saved = try await people.saveChange(next)
            try await record(saved, event: event, on: tx)
            return (saved, true)
        }
        if result.1 { await queue.notifier.notifyAll() }
        return result.0
    }

    /// The feed event and the CRM job of a new version, on the change's transaction.
    func record(_ person: Person, event: String, on tx: Transaction) async throws {
        try await PeopleFeedRepository(tx).append(
            tenantID: person.tenantID, personID: person.id, type: event, body: ["action": .string(event), "user": PeopleJSON.user(person)])
        _ = try await JobQueue.enqueue(PeopleSync.job(person), on: tx)
    }

    /// SHA-256 of the body's canonical JSON: what "the same body" means for an idempotency key.
    static func hash(_ input: Input) -> String {
        let canonical: JSONValue = [
            "external_id": input.externalID.map(JSONValue.string) ?? .null, "full_name": .string(input.fullName),
            "phone": input.phone.map(JSONValue.string) ?? .null, "email": input.email.map(JSONValue.string) ?? .null,
            "stage": .string(input.stage), "fields": .object(input.fields),
        ]
        return Identifiers.sha256Hex(canonical.jsonText)
    }
}

/// The seed's shapes for a person in replies and the feed.
public enum PeopleJSON {
    public static func user(_ person: Person) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(person.id), "full_name": .string(person.fullName), "stage": .string(person.stage),
        ]
        if let phone = person.phone { object["phone"] = .string(phone) }
        if let email = person.email { object["email"] = .string(email) }
        if let external = person.externalID { object["external_id"] = .string(external) }
        return .object(object)
    }
}
