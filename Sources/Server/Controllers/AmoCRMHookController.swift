import AmoCRM
import Foundation
import HTTPTypes
import Hummingbird
import Jobs
import Logging
import Mirror
import NIOCore
import Storage
import SwitchboardCore

/// amoCRM webhooks.
///
/// - `POST /hooks/amocrm/{tenant}/{secret}` — the real format: `application/x-www-form-urlencoded` with PHP
///   bracket keys in the v2 vocabulary. amoCRM signs nothing, so the secret in the URL (the integration's
///   secret `webhook_secret`, compared in constant time) is the only credential.
/// - `POST /api/webhooks/amo` — seed 004's compatibility shape: a JSON body, the tenant found by
///   `X-Account-ID` (the integration's `account_id` setting), `X-Signature` an HMAC-SHA256 with the client
///   secret, of the body or of `"{X-Client-UUID}|{X-Account-ID}"`. `GET …/health` and `…/test` answer as the seed shows.
///
/// The answer comes after one job is queued per entity: the records are then re-read from amoCRM, so a
/// duplicate or an out-of-order delivery changes nothing — the mirror always takes amoCRM's current state
/// (and a delete shows as a record amoCRM no longer returns).
struct AmoCRMHookController {
    let services: AppServices

    /// A delivery with many custom fields is a few KB; this leaves room for amoCRM's batches of changes.
    static let maxBody = 512 * 1024
    static let seedPath = "/api/webhooks/amo"
    /// What the mirror calls the entities amoCRM's webhooks name.
    static let mirrorEntity = ["leads": "lead", "contacts": "contact", "companies": "company"]

    func register(on router: Router<AppRequestContext>) {
        router.post("hooks/amocrm/{tenant}/{secret}", use: hook)
        router.post("api/webhooks/amo", use: seedHook)
        router.get("api/webhooks/amo/health", use: health)
        router.get("api/webhooks/amo/test", use: test)
    }

    @Sendable func hook(_ request: Request, context: AppRequestContext) async throws -> Response {
        let refused = SwitchboardError(.unauthorized, code: "invalid_webhook_secret", message: "the webhook address is not valid for this tenant", field: "secret")
        let secret = try context.parameters.require("secret")
        guard let tenant = try await services.stores.tenants.find(try context.parameters.require("tenant")),
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .amocrm), integration.enabled,
            let expected = integration.secrets["webhook_secret"], !expected.isEmpty, Identifiers.constantTimeEquals(expected, secret)
        else { throw refused }
        let text = String(buffer: try await request.collectBody(limit: Self.maxBody))
        let hook = text.first == "{" ? try AmoCRMWebhook.parse(json: text) : try AmoCRMWebhook.parse(form: text)
        return try await accept(hook, tenant: tenant, integration: integration, context: context)
    }

    @Sendable func seedHook(_ request: Request, context: AppRequestContext) async throws -> Response {
        let text = String(buffer: try await request.collectBody(limit: Self.maxBody))
        let accountID = request.headers[HTTPField.Name("X-Account-ID")!]
        let clientUUID = request.headers[HTTPField.Name("X-Client-UUID")!]
        let signature = request.headers[HTTPField.Name("X-Signature")!]
        let refused = SwitchboardError(.unauthorized, code: "invalid_signature", message: "X-Signature is missing or wrong for X-Account-ID", field: "X-Signature")
        guard let accountID, !accountID.isEmpty else { throw SwitchboardError.invalid("X-Account-ID", "the header names no amoCRM account", code: "missing_field") }
        let candidates = try await services.stores.integrations.enabledSettings(kind: .amocrm).filter { $0.settings["account_id"]?.scalarText == accountID }
        for candidate in candidates {
            guard let integration = try await services.stores.integrations.find(tenantID: candidate.tenantID, kind: .amocrm),
                let tenant = try await services.stores.tenants.find(candidate.tenantID)
            else { continue }
            let key = integration.secrets["webhook_signing_secret"] ?? integration.secrets["client_secret"] ?? ""
            // The seed's literal scheme signs only `client|account` — replayable with any body — so it is taken
            // only where the tenant turned it on (`seed_header_signature: true`).
            let headerScheme = integration.settings["seed_header_signature"]?.boolValue == true
            guard AmoCRMWebhook.seedSignatureValid(body: text, header: signature, secret: key)
                || (headerScheme && AmoCRMWebhook.seedHeaderSignatureValid(clientUUID: clientUUID, accountID: accountID, header: signature, secret: key))
            else { continue }
            let hook = text.first == "{" || text.isEmpty ? try AmoCRMWebhook.parse(json: text.isEmpty ? "{}" : text) : try AmoCRMWebhook.parse(form: text)
            return try await accept(hook, tenant: tenant, integration: integration, context: context)
        }
        throw refused
    }

    /// Queues one `mirror.apply` job per entity with the ids the delivery names.
    private func accept(_ hook: AmoCRMWebhook, tenant: Tenant, integration: Integration, context: AppRequestContext) async throws -> Response {
        context.observed.tenantSlug = tenant.slug
        var log = context.logger
        log[metadataKey: "tenant_id"] = "\(tenant.id)"
        let off = try await services.stores.syncStates.eventsOff(tenantID: tenant.id, integration: "amocrm")
        var ids: [String: [Int64]] = [:]
        var ignored = hook.ignored
        for event in hook.events {
            // amoCRM's form hooks may carry a company as a contact of type `company`.
            let kind = event.entity == "contacts" && event.record["type"]?.stringValue == "company" ? "companies" : event.entity
            guard let entity = Self.mirrorEntity[kind] else {
                ignored.append(event.entity)
                continue
            }
            if off.contains(entity) {
                ignored.append("\(event.entity) (events turned off in sync config)")
                continue
            }
            if !(ids[entity]?.contains(event.id) ?? false) { ids[entity, default: []].append(event.id) }
        }
        var jobIDs: [String] = []
        for (entity, list) in ids.sorted(by: { $0.key < $1.key }) {
            let (job, _) = try await services.jobs.enqueue(MirrorJobs.applyJob(tenantID: tenant.id, crm: "amocrm", entity: entity, ids: list))
            jobIDs.append(job.id)
        }
        log.info(
            "amocrm webhook accepted",
            metadata: ["events": "\(hook.events.count)", "jobs": "\(jobIDs.count)", "account": "\(hook.subdomain ?? hook.accountID ?? "-")"])
        let answer = SeedAnswer(
            status: "success", message: "Processed \(hook.events.count) events", eventsProcessed: hook.events.count,
            timestamp: Date().ISO8601Format(), errors: nil, jobIDs: jobIDs, ignored: ignored.isEmpty ? nil : Array(Set(ignored)).sorted())
        return try JSONResponse.make(answer)
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> Response {
        let database: String
        do {
            _ = try await services.stores.tenants.list()
            database = "connected"
        } catch {
            database = "unavailable"
        }
        let body: JSONValue = [
            "status": .string(database == "connected" ? "healthy" : "unhealthy"), "timestamp": .string(Date().ISO8601Format()),
            "database": .string(database), "webhook_endpoint": "active",
        ]
        return try JSONResponse.make(body, status: database == "connected" ? .ok : .serviceUnavailable)
    }

    @Sendable func test(_ request: Request, context: AppRequestContext) async throws -> Response {
        let events = ["leads.add", "leads.update", "leads.delete", "leads.status", "contacts.add", "contacts.update", "contacts.delete", "companies.add", "companies.update", "companies.delete"]
        let body: JSONValue = [
            "status": "success", "message": "Webhook endpoint is working", "timestamp": .string(Date().ISO8601Format()),
            "endpoint": .string(Self.seedPath), "real_endpoint": "/hooks/amocrm/{tenant}/{secret}",
            "supported_events": .array(events.map(JSONValue.string)),
        ]
        return try JSONResponse.make(body)
    }
}

/// Seed 004's answer to a delivery, with the jobs that apply it.
struct SeedAnswer: Encodable {
    var status: String
    var message: String
    var eventsProcessed: Int
    var timestamp: String
    var errors: [String]?
    var jobIDs: [String]
    var ignored: [String]?
    enum CodingKeys: String, CodingKey {
        case status, message, timestamp, errors, ignored
        case eventsProcessed = "events_processed"
        case jobIDs = "job_ids"
    }
}
