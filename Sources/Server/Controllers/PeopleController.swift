import Foundation
import HTTPTypes
import Hummingbird
import People
import Storage
import SwitchboardCore

/// `/api/v1/tenants/{tenant}/people…` and `…/events` (seed 003): the company's app creates, changes and
/// moves people; each change reaches the CRM as a lead through a job, and comes back as the person's
/// `crm` state, a feed event and (optionally) a signed callback.
struct PeopleController {
    let services: AppServices

    func register(on tenant: RouterGroup<AppRequestContext>) {
        tenant.get("people/settings", use: showSettings)
        tenant.put("people/settings", use: saveSettings)
        tenant.post("people", use: create)
        tenant.get("people", use: list)
        tenant.get("people/{id}", use: show)
        tenant.patch("people/{id}", use: update)
        tenant.post("people/{id}/move", use: move)
        tenant.delete("people/{id}", use: delete)
        tenant.get("events", use: events)
    }

    var changes: PeopleChanges { PeopleChanges(queue: services.jobs) }

    private func object(_ request: Request) async throws -> [String: JSONValue] {
        try await request.jsonObject(limit: services.settings.maxBodyBytes)
    }

    static let personKeys: Set<String> = ["full_name", "phone", "email", "stage", "external_id", "fields"]

    /// Reads the person's fields from `body` on top of `base` (a PATCH leaves out what it does not change);
    /// a key outside `allowed` is a 400 naming it.
    private func input(
        _ body: [String: JSONValue], base: PeopleChanges.Input?, tenant: Tenant, settings: PeopleSettings, allowed: Set<String> = personKeys
    ) throws -> PeopleChanges.Input {
        if let unknown = body.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SwitchboardError.invalid(unknown, "unknown field '\(unknown)'; expected \(allowed.sorted().joined(separator: ", "))")
        }
        var input = base ?? .init(externalID: nil, fullName: "", phone: nil, email: nil, stage: "", fields: [:])
        if let value = body["full_name"] {
            guard let name = value.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty, name.count <= 200 else {
                throw SwitchboardError.invalid("full_name", "full_name must be 1–200 characters")
            }
            input.fullName = name
        } else if base == nil {
            throw SwitchboardError.invalid("full_name", "full_name is required", code: "missing_field")
        }
        if let value = body["phone"] {
            if value == .null || value.stringValue?.isEmpty == true {
                input.phone = nil
            } else {
                guard let raw = value.stringValue, let phone = PhoneNumber.e164(raw, defaultCountry: tenant.defaultCountry) else {
                    throw SwitchboardError.invalid("phone", "'\(value.stringValue ?? value.jsonText)' is not a phone number")
                }
                input.phone = phone
            }
        }
        if input.phone == nil, !settings.allowWithoutPhone {
            // Seed 003's "Missing phone number", answered at once instead of as a failed job.
            throw SwitchboardError.invalid("phone", "Missing phone number", code: "missing_field")
        }
        if let value = body["email"] {
            if value == .null || value.stringValue?.isEmpty == true {
                input.email = nil
            } else {
                guard let email = value.stringValue?.trimmingCharacters(in: .whitespaces), email.count <= 254,
                    email.split(separator: "@").count == 2, !email.hasPrefix("@"), email.split(separator: "@")[1].contains(".")
                else { throw SwitchboardError.invalid("email", "'\(value.stringValue ?? value.jsonText)' is not an e-mail address") }
                input.email = email
            }
        }
        if let value = body["stage"] {
            guard let stage = value.stringValue, settings.stages[stage] != nil else {
                throw SwitchboardError.invalid("stage", "stage must be one of \(settings.stages.keys.sorted().joined(separator: ", "))")
            }
            input.stage = stage
        } else if base == nil {
            throw SwitchboardError.invalid("stage", "stage is required: one of \(settings.stages.keys.sorted().joined(separator: ", "))", code: "missing_field")
        }
        if let value = body["external_id"] {
            if value == .null { input.externalID = nil } else {
                guard let text = value.stringValue, !text.isEmpty, text.count <= 100 else {
                    throw SwitchboardError.invalid("external_id", "external_id must be 1–100 characters")
                }
                input.externalID = text
            }
        }
        if let value = body["fields"] {
            guard let fields = value.objectValue, fields.count <= 50 else { throw SwitchboardError.invalid("fields", "fields must be an object of at most 50 CRM fields") }
            for (key, item) in fields {
                guard key.count <= 64, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw SwitchboardError.invalid("fields.\(key)", "'\(key)' is not a CRM field code (UF_CRM_…, SOURCE_ID, COMMENTS…)")
                }
                if case .object = item { throw SwitchboardError.invalid("fields.\(key)", "a field value must be text, a number, true/false, a list or null") }
            }
            input.fields = fields
        }
        return input
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        if let key, key.isEmpty || key.count > 200 {
            throw SwitchboardError.invalid("Idempotency-Key", "Idempotency-Key must be 1–200 characters")
        }
        let (settings, _) = try await services.stores.peopleSettings.load(tenantID: tenant.id)
        let input = try input(try await object(request), base: nil, tenant: tenant, settings: settings)
        let (person, replayed) = try await changes.create(tenantID: tenant.id, input, idempotencyKey: key, crm: settings.crm)
        context.logger.info("person created", metadata: ["person": "\(person.id)", "replayed": "\(replayed)"])
        var response = try JSONResponse.make(PersonView(person), status: replayed ? .ok : .created)
        if replayed { response.headers[HTTPField.Name("Idempotent-Replayed")!] = "true" }
        return response
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await change(request, context: context, event: "updated", allowed: Self.personKeys)
    }

    @Sendable func move(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await change(request, context: context, event: "moved", allowed: ["stage"])
    }

    private func change(_ request: Request, context: AppRequestContext, event: String, allowed: Set<String>) async throws -> Response {
        let tenant = try context.requireTenant()
        let id = try context.parameters.require("id")
        let body = try await object(request)
        if event == "moved", body["stage"] == nil { throw SwitchboardError.invalid("stage", "stage is required", code: "missing_field") }
        let (settings, _) = try await services.stores.peopleSettings.load(tenantID: tenant.id)
        // The body applies to the person as locked by the change, so a concurrent change is not undone.
        let saved = try await changes.change(tenantID: tenant.id, key: id, event: event) { [self] person in
            try input(body, base: PeopleChanges.Input(person), tenant: tenant, settings: settings, allowed: allowed).apply(to: &person)
        }
        return try JSONResponse.make(PersonView(saved))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let id = try context.parameters.require("id")
        _ = try await changes.change(tenantID: tenant.id, key: id, event: "deleted") { person in person.deletedAt = Date.storageNow }
        return Response(status: .noContent)
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let person = try await services.stores.people.find(tenantID: tenant.id, key: try context.parameters.require("id")) else {
            throw SwitchboardError.notFound("person")
        }
        return try JSONResponse.make(PersonView(person))
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let query = request.uri.queryParameters
        let status = try query["sync_status"].map { raw in
            guard let status = PersonCRMState.Status(rawValue: String(raw)) else {
                throw SwitchboardError.invalid("sync_status", "sync_status must be one of pending, synced, failed")
            }
            return status
        }
        let limit = try request.limitParameter() ?? 100
        var after: (Date, String)?
        if let cursor = query["cursor"].map(String.init) {
            let parts = cursor.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, let ms = Double(parts[0]) else { throw SwitchboardError.invalid("cursor", "cursor is not one this API gave") }
            after = (Date(timeIntervalSince1970: ms / 1000).roundedToMilliseconds, String(parts[1]))
        }
        let people = try await services.stores.people.list(
            tenantID: tenant.id, stage: query["stage"].map(String.init), syncStatus: status, limit: limit, after: after)
        let next = people.count == limit ? people.last.map { "\(Int64(($0.createdAt.timeIntervalSince1970 * 1000).rounded()))_\($0.id)" } : nil
        return try JSONResponse.make(PeopleListView(items: people.map(PersonView.init), nextCursor: next))
    }

    /// `GET …/events?since=N&limit=`: the reply feed in order; pass the last `seq` seen as `since`.
    @Sendable func events(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let sinceText = request.uri.queryParameters["since"].map(String.init) ?? "0"
        guard let since = Int64(sinceText), since >= 0 else { throw SwitchboardError.invalid("since", "since must be a feed position (0 or a seq seen before)") }
        let limit = try request.limitParameter() ?? 100
        let events = try await services.stores.peopleFeed.list(tenantID: tenant.id, since: since, limit: limit)
        let items: [JSONValue] = events.map { event in
            [
                "seq": .number(Double(event.seq)), "type": .string(event.type), "person_id": .string(event.personID),
                "created_at": .string(event.createdAt.ISO8601Format()), "data": event.body,
            ]
        }
        return try JSONResponse.make(JSONValue.object(["items": .array(items), "next_since": .number(Double(events.last?.seq ?? since))]))
    }

    @Sendable func showSettings(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let (settings, secret) = try await services.stores.peopleSettings.load(tenantID: tenant.id)
        var json = settings.json
        json["callback_secret"] = secret.map { .string(SecretMask.mask($0)) } ?? .null
        return try JSONResponse.make(JSONValue.object(json))
    }

    /// Settings on top of the current ones; the stage mapping is checked against the CRM's real statuses.
    @Sendable func saveSettings(_ request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await object(request)
        let (current, _) = try await services.stores.peopleSettings.load(tenantID: tenant.id)
        let settings = try PeopleSettings(json: body, base: current)
        var secret: String?
        if let value = body["callback_secret"] {
            if value == .null { secret = "" } else {
                guard let text = value.stringValue, text.count >= 16, text.count <= 200 else {
                    throw SwitchboardError.invalid("callback_secret", "callback_secret must be 16–200 characters")
                }
                secret = text
            }
        }
        if ["crm", "stages", "closed_status", "entity", "deal_category"].contains(where: { body[$0] != nil }) {
            try await checkStatuses(settings, tenant: tenant)
        }
        try await services.stores.peopleSettings.save(tenantID: tenant.id, settings, callbackSecret: secret)
        return try await showSettings(request, context: context)
    }

    private func checkStatuses(_ settings: PeopleSettings, tenant: Tenant) async throws {
        let crmName = settings.crm == "amocrm" ? "amoCRM" : "Bitrix24"
        guard let kind = IntegrationKind(rawValue: settings.crm), let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: kind),
            integration.enabled
        else {
            throw SwitchboardError.conflict("connect \(crmName) first: the stage mapping is checked against its statuses", field: "integration")
        }
        let what =
            settings.crm == "amocrm" ? "status in pipeline \(settings.dealCategory == 0 ? "main" : String(settings.dealCategory))"
            : settings.entity == "deal" ? "deal stage of pipeline \(settings.dealCategory)" : "lead status"
        let statuses: [String: String]
        do {
            statuses = try await PeopleSync.statuses(integration, bitrix24: services.bitrix24, amoCRM: services.amoCRM, settings: settings)
        } catch {
            throw SwitchboardError(.unavailable, code: "crm_unavailable", message: "could not read \(crmName)'s \(what) list: \(error)")
        }
        if statuses.isEmpty, settings.entity == "deal" || settings.crm == "amocrm" {
            throw SwitchboardError.invalid("deal_category", "\(crmName) has no pipeline \(settings.dealCategory)")
        }
        for (stage, status) in settings.stages.sorted(by: { $0.key < $1.key }) where statuses[status] == nil {
            throw SwitchboardError.invalid(
                "stages.\(stage)", "\(crmName) has no \(what) '\(status)'; it has \(statuses.keys.sorted().joined(separator: ", "))")
        }
        if statuses[settings.closedStatus] == nil {
            throw SwitchboardError.invalid("closed_status", "\(crmName) has no \(what) '\(settings.closedStatus)'")
        }
    }
}

/// A person as the API shows it, with its CRM state (the seed's reply, kept).
struct PersonView: Encodable {
    var id: String
    var externalID: String?
    var fullName: String
    var phone: String?
    var email: String?
    var stage: String
    var fields: [String: JSONValue]
    var version: Int
    var crm: CRM
    var createdAt, updatedAt: Date
    var deletedAt: Date?

    struct CRM: Encodable {
        var kind: String?
        /// `lead` or `deal`: what `lead_id` is the id of (known once the CRM has the record).
        var entity: String?
        var leadID: String?
        var status: String
        var reason: String?
        var attempts: Int
        var lastAttemptAt: Date?
    }

    init(_ person: Person) {
        id = person.id
        externalID = person.externalID
        fullName = person.fullName
        phone = person.phone
        email = person.email
        stage = person.stage
        fields = person.fields
        version = person.version
        crm = CRM(
            kind: person.crm.kind, entity: person.crm.entity, leadID: person.crm.leadID, status: person.crm.status.rawValue, reason: person.crm.reason,
            attempts: person.crm.attempts, lastAttemptAt: person.crm.lastAttemptAt)
        createdAt = person.createdAt
        updatedAt = person.updatedAt
        deletedAt = person.deletedAt
    }
}

struct PeopleListView: Encodable {
    var items: [PersonView]
    var nextCursor: String?
}
