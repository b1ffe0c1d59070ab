import Access
import Bitrix24
import Foundation
import Hummingbird
import Jobs
import Logging
import Telephony
import Mirror
import NIOCore
import Storage
import SwitchboardCore

/// `POST /hooks/bitrix24/{tenant}`: events Bitrix24 pushes — form-encoded with PHP bracket keys
/// (`event=ONCRMDEALUPDATE&data[FIELDS][ID]=7&auth[application_token]=…`). Bitrix24 signs nothing: the
/// `application_token` (shown when the outgoing webhook is created, or sent to an app at install) is the
/// credential, compared in constant time with the integration's secret `application_token`.
///
/// Bitrix24 never retries and throttles slow handlers, so the answer comes after one insert: the record
/// is re-read by a `mirror.apply` job. Offline events (`event.offline.get`) are the lossless path beside it.
struct Bitrix24HookController {
    let services: AppServices

    /// Event bodies are a few hundred bytes; anything near this is not Bitrix24.
    static let maxBody = 64 * 1024

    func register(on router: Router<AppRequestContext>) {
        router.post("hooks/bitrix24/{tenant}", use: event)
    }

    /// The body of a request Bitrix24 sends (an event, an install), at most `maxBody` bytes.
    static func body(_ request: Request) async throws -> String {
        String(buffer: try await request.collectBody(limit: maxBody))
    }

    @Sendable func event(_ request: Request, context: AppRequestContext) async throws -> Response {
        let text = try await Self.body(request)
        // The docs render events as JSON for readability; what Bitrix24 sends is a form. Both are read.
        let fields: [String: JSONValue]
        if text.first == "{" {
            guard let object = JSONValue(jsonText: text)?.objectValue else { throw SwitchboardError.invalid("body", "the body is not valid JSON") }
            fields = object
        } else {
            fields = try FormURLEncoding.decodeNested(text)
        }
        guard let event = fields["event"]?.stringValue, !event.isEmpty else {
            throw SwitchboardError.invalid("event", "the body names no event (expected a Bitrix24 event form: event=ONCRMDEALUPDATE&…)")
        }
        let auth = fields["auth"]?.objectValue ?? [:]
        let tenantKey = try context.parameters.require("tenant")
        if event.uppercased() == "ONAPPINSTALL" { return try await appInstalled(auth, tenantKey: tenantKey, context: context) }
        let (tenant, integration) = try await verify(tenant: tenantKey, token: auth["application_token"]?.stringValue)
        var log = context.logger
        log[metadataKey: "tenant_id"] = "\(tenant.id)"
        log[metadataKey: "event"] = "\(event)"
        if event.uppercased() == "ONAPPUNINSTALL" {
            // The app is gone from the portal: its tokens are dead, its offline queue with them.
            var settings = integration.settings
            settings["offline_events"] = false
            _ = try await services.stores.integrations.save(
                tenantID: tenant.id, kind: .bitrix24, change: .init(settings: settings, secrets: ["access_token": nil, "refresh_token": nil]))
            await services.bitrix24Tokens.forget(tenantID: tenant.id)
            log.notice("bitrix24 app uninstalled from the portal; its tokens were removed")
            return try JSONResponse.make(HookAnswer(status: "uninstalled"))
        }
        if event.uppercased() == "ONEXTERNALCALLSTART" {
            return try await clickToCall(fields["data"]?.objectValue ?? [:], tenant: tenant, log: log)
        }
        guard let (entity, change) = Bitrix24Entity.parse(event: event) else {
            log.info("bitrix24 event ignored: not one Switchboard handles")
            return try JSONResponse.make(HookAnswer(status: "ignored", reason: "event \(event) is not handled"))
        }
        let idValue = fields["data"]?.objectValue?["FIELDS"]?.objectValue?["ID"]
        guard let id = idValue?.stringValue.flatMap({ Int64($0) }) ?? idValue?.intValue.map(Int64.init), id > 0 else {
            throw SwitchboardError.invalid("data[FIELDS][ID]", "the event carries no record id")
        }
        let state = try await services.stores.syncStates.load(tenantID: tenant.id, integration: "bitrix24", entity: entity.rawValue)
        guard state.webhookEnabled else {
            return try JSONResponse.make(HookAnswer(status: "ignored", reason: "events for \(entity.rawValue) are turned off (sync config webhook_enabled)"))
        }
        let (job, _) = try await services.jobs.enqueue(MirrorJobs.applyJob(tenantID: tenant.id, crm: "bitrix24", entity: entity.rawValue, ids: [id]))
        log.debug("bitrix24 event accepted", metadata: ["change": "\(change)", "record_id": "\(id)", "job_id": "\(job.id)"])
        return try JSONResponse.make(HookAnswer(status: "accepted", jobID: job.id))
    }

    /// `ONEXTERNALCALLSTART`: a user clicked a number in the CRM. The portal has registered the call
    /// already; its `CALL_ID` waits for the PBX call from the user's extension to that number (the
    /// telephony dispatcher finishes it under that id), and the PBX is told to ring the extension, then
    /// dial out. A card no call claims is closed by a job: at once as failed when the PBX cannot dial, as
    /// missed after the matching window otherwise — no card hangs open.
    private func clickToCall(_ data: [String: JSONValue], tenant: Tenant, log: Logger) async throws -> Response {
        func text(_ name: String) -> String? { data[name]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? data[name]?.intValue.map(String.init) }
        guard let callID = text("CALL_ID") else { throw SwitchboardError.invalid("data[CALL_ID]", "the event carries no CALL_ID") }
        guard let raw = text("PHONE_NUMBER_INTERNATIONAL") ?? text("PHONE_NUMBER"),
            let phone = PhoneNumber.e164(raw, defaultCountry: tenant.defaultCountry)
        else { throw SwitchboardError.invalid("data[PHONE_NUMBER]", "the event carries no phone number that can be dialled") }
        let managers = try await services.stores.managers.list(tenantID: tenant.id, integration: .bitrix24)
        let mapped = text("USER_ID").flatMap { user in managers.first { $0.crmUserID == user }?.extensionNumber }
        guard let ext = mapped ?? text("EXTENSION"), ext.count <= 20, ext.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw SwitchboardError.invalid("data[USER_ID]", "no extension is mapped to Bitrix24 user \(text("USER_ID") ?? "?") and the event names none")
        }
        try await Bitrix24ClickToCall.remember(callID: callID, tenantID: tenant.id, extension: ext, phone: phone, on: services.database)
        func close(_ status: String, after delay: TimeInterval) async throws {
            _ = try await services.jobs.enqueue(
                Bitrix24ClickToCall.closeJob(
                    tenantID: tenant.id, callID: callID, extension: ext, phone: phone, userID: text("USER_ID").flatMap(Int.init), statusCode: status,
                    after: delay))
        }
        do {
            try await ClickToCall(stores: services.stores, pbx: services.pbx).originate(tenant: tenant, extension: ext, phone: phone, source: "bitrix24")
        } catch let error as SwitchboardError {
            log.warning("bitrix24 click-to-call failed at the PBX", metadata: ["reason": "\(error.message)"])
            try await close("503", after: 0)
            return try JSONResponse.make(HookAnswer(status: "failed", reason: error.message))
        }
        // The PBX only queued the call (async Originate): if no call from the extension claims the click in
        // time — nobody picked up, the PBX dropped it — the card is closed as missed.
        try await close("304", after: Bitrix24ClickToCall.window + 5)
        log.info("bitrix24 click-to-call started", metadata: ["extension": "\(ext)"])
        return try JSONResponse.make(HookAnswer(status: "dialing"))
    }

    /// `ONAPPINSTALL`: the app was installed; the event brings the application token later events carry.
    /// Trusted only after the tenant's configured portal accepted the event's access token.
    private func appInstalled(_ auth: [String: JSONValue], tenantKey: String, context: AppRequestContext) async throws -> Response {
        let refused = SwitchboardError(
            .unauthorized, code: "invalid_install", message: "the install event's tokens are not of the portal configured for this tenant",
            field: "auth[access_token]")
        guard let access = auth["access_token"]?.stringValue, !access.isEmpty,
            let applicationToken = auth["application_token"]?.stringValue, !applicationToken.isEmpty,
            let tenant = try await services.stores.tenants.find(tenantKey),
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .bitrix24)
        else { throw refused }
        try await services.bitrix24.install(
            .init(
                accessToken: access, refreshToken: auth["refresh_token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                expiresIn: auth["expires_in"]?.intValue.map(Double.init), memberID: auth["member_id"]?.stringValue, domain: auth["domain"]?.stringValue,
                applicationToken: applicationToken),
            integration: integration, refused: refused)
        context.logger.notice("bitrix24 app install event: application token stored", metadata: ["tenant_id": "\(tenant.id)"])
        return try JSONResponse.make(HookAnswer(status: "installed"))
    }

    /// The tenant and its Bitrix24 integration, when `token` is its application token; 401 otherwise
    /// (the same answer for an unknown tenant, so the route reveals nothing).
    private func verify(tenant idOrSlug: String, token: String?) async throws -> (Tenant, Integration) {
        let refused = SwitchboardError(
            .unauthorized, code: "invalid_application_token", message: "auth[application_token] is missing or wrong",
            field: "auth[application_token]")
        guard let token, !token.isEmpty, let tenant = try await services.stores.tenants.find(idOrSlug),
            let integration = try await services.stores.integrations.find(tenantID: tenant.id, kind: .bitrix24), integration.enabled,
            let expected = integration.secrets["application_token"], Identifiers.constantTimeEquals(expected, token)
        else { throw refused }
        return (tenant, integration)
    }
}

struct HookAnswer: Encodable {
    var status: String
    var reason: String? = nil
    var jobID: String? = nil
    enum CodingKeys: String, CodingKey { case status, reason, jobID = "job_id" }
}
