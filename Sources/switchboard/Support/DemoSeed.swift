import AsyncHTTPClient
import Foundation
import Jobs
import Mirror
import NIOCore
import NIOHTTP1
import RetailCRM
import Sandbox
import Server
import Telephony
import Storage
import SwitchboardCore
import Synchronization

/// Sample data for `switchboard demo`: an admin, a tenant with integrations, and the credentials to try them.
enum DemoSeed {
    struct Seeded: Sendable {
        var email = "admin@demo.switchboard.local"
        var password = ""
        var tenant = "demo"
        var pbxToken = ""
        var apiToken = ""
        var reused = false
        var clientID = ""
        var tenantID = ""
    }

    final class Box: Sendable {
        private let storage = Mutex(Seeded())
        var value: Seeded {
            get { storage.withLock { $0 } }
            set { storage.withLock { $0 = newValue } }
        }
    }

    static func seed(
        _ services: AppServices, retailCRM: String, pbxPort: Int, bitrix24: String, portal: Bitrix24Emulator, amoCRM: String, account: AmoCRMEmulator
    ) async throws -> Seeded {
        var seeded = Seeded()
        seeded.clientID = "\(seeded.tenant).sandbox-client"
        if let existing = try await services.stores.tenants.find(seeded.tenant) {
            // The emulators listen on new ports each run.
            _ = try await services.stores.integrations.save(
                tenantID: existing.id, kind: .retailcrm,
                change: .init(settings: ["base_url": .string(retailCRM), "missed_call_tasks": true]))
            _ = try await services.stores.integrations.save(
                tenantID: existing.id, kind: .asterisk,
                change: .init(settings: ["host": .string("127.0.0.1"), "port": .number(Double(pbxPort))]))
            _ = try await services.stores.integrations.save(tenantID: existing.id, kind: .bitrix24, change: bitrix24Change(bitrix24, portal: portal))
            try await bitrix24Managers(services, tenantID: existing.id)
            try await amoCRMSettings(services, tenantID: existing.id, base: amoCRM, emulator: account)
            // A kept --data-dir: reuse it, with fresh credentials so the guide still works.
            seeded.reused = true
            seeded.tenantID = existing.id
            seeded.pbxToken = try await services.stores.tenants.pbxToken(id: existing.id)
            seeded.apiToken = try await services.stores.apiTokens.issue(tenantID: existing.id, name: "demo", scope: .write).plaintext
            seeded.password = Identifiers.randomToken(prefix: "", bytes: 12)
            if let user = try await services.stores.users.find(email: seeded.email) {
                try await services.stores.users.setPasswordHash(id: user.id, hash: try await services.passwords.hash(seeded.password))
            }
            return seeded
        }
        let created = try await TenantProvisioning.create(
            database: services.database, secrets: services.secrets, slug: seeded.tenant, name: "Демо-компания / Demo Company")
        seeded.pbxToken = created.pbxToken
        seeded.apiToken = created.apiTokenPlaintext
        seeded.tenantID = created.tenant.id
        seeded.password = Identifiers.randomToken(prefix: "", bytes: 12)
        _ = try await services.stores.users.create(
            email: seeded.email, role: .superAdmin, tenantID: nil,
            passwordHash: try await services.passwords.hash(seeded.password))
        // The PBX: the Sandbox's AMI simulator; calls are tracked from its events.
        _ = try await services.stores.integrations.save(
            tenantID: created.tenant.id, kind: .asterisk,
            change: .init(
                enabled: true, settings: ["host": .string("127.0.0.1"), "port": .number(Double(pbxPort))],
                secrets: ["username": "switchboard", "secret": "demo-ami-secret-123"]))
        // RetailCRM: the Sandbox emulator (never a real account), managers 18 and 19 on extensions 100 and 101.
        _ = try await services.stores.integrations.save(
            tenantID: created.tenant.id, kind: .retailcrm,
            change: .init(
                enabled: true, settings: ["base_url": .string(retailCRM), "missed_call_tasks": true],
                secrets: ["api_key": "sandbox-retailcrm-key", "client_id": .some(seeded.clientID)]))
        try await services.stores.managers.replace(
            tenantID: created.tenant.id, integration: .retailcrm,
            with: [ManagerExtension(crmUserID: "18", extensionNumber: "100", crmUserName: "Анна Смирнова"),
                   ManagerExtension(crmUserID: "19", extensionNumber: "101", crmUserName: "Борис Иванов")])
        // Bitrix24: the Sandbox portal (never a real one): an incoming-webhook URL at first, then the app is
        // installed once the server runs (OAuth tokens, event binding, telephony); mirrored below.
        _ = try await services.stores.integrations.save(tenantID: created.tenant.id, kind: .bitrix24, change: bitrix24Change(bitrix24, portal: portal))
        try await bitrix24Managers(services, tenantID: created.tenant.id)
        // amoCRM: the Sandbox account (never a real one), connected through OAuth once the server runs.
        try await amoCRMSettings(services, tenantID: created.tenant.id, base: amoCRM, emulator: account)
        // A recurring job on the tenant's clock: a nightly connection test of the PBX at 03:00 Moscow time.
        let now = Date.storageNow
        try await services.stores.schedules.save(
            TenantSchedule(
                id: Identifiers.newID(), tenantID: created.tenant.id, name: "nightly PBX check", kind: StandardJobs.integrationTest,
                payload: ["kind": "asterisk"], cron: "0 3 * * *", createdAt: now, updatedAt: now))
        // A background job for the workers to run at once: its result lands in the job and the integration log.
        _ = try await services.jobs.enqueue(
            .init(kind: StandardJobs.integrationTest, tenantID: created.tenant.id, payload: ["kind": "asterisk"], maxAttempts: 3))
        return seeded
    }

    static func bitrix24Change(_ base: String, portal emulator: Bitrix24Emulator) -> IntegrationRepository.Change {
        .init(
            enabled: true,
            settings: ["portal_url": .string(base), "client_id": .string(emulator.clientID), "oauth_url": .string("\(base)/oauth/token/"), "telephony": true],
            secrets: ["webhook_url": .some("\(base)/rest/1/sandboxwebhookcode/"), "client_secret": .some(emulator.clientSecret),
                      "access_token": nil, "refresh_token": nil])
    }

    /// Bitrix24 users 1–3 on extensions 100–102 (calls are registered for them).
    static func bitrix24Managers(_ services: AppServices, tenantID: String) async throws {
        try await services.stores.managers.replace(
            tenantID: tenantID, integration: .bitrix24,
            with: [ManagerExtension(crmUserID: "1", extensionNumber: "100", crmUserName: "Анна Смирнова"),
                   ManagerExtension(crmUserID: "2", extensionNumber: "101", crmUserName: "Борис Иванов"),
                   ManagerExtension(crmUserID: "3", extensionNumber: "102", crmUserName: "Вера Козлова")])
    }

    /// Installs the Switchboard app in the emulated portal the way Bitrix24 does it: the install handler
    /// gets the tokens, `ONAPPINSTALL` brings the application token, then the handlers are bound (online
    /// and offline) through the same API an admin would call.
    static func installBitrix24App(_ services: AppServices, emulator: Bitrix24Emulator, base: String, seeded: Seeded) async {
        func post(_ path: String, _ body: String, form: Bool = true, token: String? = nil) async -> Int {
            var request = HTTPClientRequest(url: base + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: form ? "application/x-www-form-urlencoded" : "application/json")
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            request.body = .bytes(ByteBuffer(string: body))
            return (try? await HTTPClient.shared.execute(request, timeout: .seconds(10)).status.code).map { Int($0) } ?? 0
        }
        let (access, refresh) = await emulator.issueTokens()
        let install = FormURLEncoding.encode([
            ("AUTH_ID", access), ("AUTH_EXPIRES", "3600"), ("REFRESH_ID", refresh), ("member_id", emulator.memberID), ("status", "L"),
            ("PLACEMENT", "DEFAULT"),
        ])
        let steps = [
            await post("/hooks/bitrix24/\(seeded.tenantID)/install?DOMAIN=\(await emulator.domain)&PROTOCOL=0&LANG=ru", install),
            await post("/hooks/bitrix24/\(seeded.tenantID)", await emulator.appInstallEvent()),
            await post("/api/v1/tenants/\(seeded.tenant)/webhooks/register?handler_base_url=\(base)", "", form: false, token: seeded.apiToken),
        ]
        if steps.contains(where: { $0 != 200 }) {
            FileHandle.standardError.write(Data("demo: installing the Bitrix24 app answered \(steps)\n".utf8))
        }
    }

    /// Queues a full mirror of every Bitrix24 entity (deals last: 100,000 of them take a while).
    static func startMirror(_ services: AppServices, seeded: Seeded) async {
        for entity in ["status", "category", "user", "company", "contact", "lead", "deal"] {
            _ = try? await services.jobs.enqueue(MirrorJobs.syncJob(tenantID: seeded.tenantID, crm: "bitrix24", entity: entity, mode: "full"))
        }
        // The call log joins the mirror too (again every five minutes).
        _ = try? await services.jobs.enqueue(
            .init(kind: CallLogMirror.kind, tenantID: seeded.tenantID, payload: [:], runAt: Date().addingTimeInterval(20), maxAttempts: 3))
    }

    /// Registers Switchboard's telephony module in the emulated RetailCRM (callbacks to `base`, the
    /// managers' extensions, the account link) the way `POST …/integrations/retailcrm/register` does.
    static func registerModule(_ services: AppServices, base: String, seeded: Seeded) async -> String? {
        do {
            guard let tenant = try await services.stores.tenants.find(seeded.tenant) else { return nil }
            _ = try await RetailCRMModuleController.registerModule(tenant: tenant, publicURL: base, moduleCode: nil, services: services)
            return try await services.stores.integrations.find(tenantID: tenant.id, kind: .retailcrm)?.secrets["account_url"]
        } catch {
            FileHandle.standardError.write(Data("demo: registering the RetailCRM module failed: \(error)\n".utf8))
            return nil
        }
    }

    /// Sample calls through the real PBX endpoint, as an Asterisk dialplan would send them: an answered
    /// inbound call, a missed one and an answered outbound one. Workers then deliver them to the emulator.
    static func placeSampleCalls(base: String, pbxToken: String) async {
        let now = Int(Date().timeIntervalSince1970)
        let calls: [(String, [String], String)] = [
            ("demo-in-\(now)", ["dial", "bridge", "hangup"],
             #""CallerIDNum":"+375296254070","CallType":0,"Extensions":["101"],"CallStatus":"ANSWER","StartTime":\#(now - 95),"EndTime":\#(now - 20),"BillSec":61,"RecordUrl":"https://pbx.example.com/recordings/demo-in.wav""#),
            ("demo-missed-\(now)", ["dial", "hangup"],
             #""CallerIDNum":"89161234567","CallType":0,"Extensions":["100","101"],"CallStatus":"NOANSWER","StartTime":\#(now - 60),"EndTime":\#(now - 40)"#),
            ("demo-out-\(now)", ["dial", "hangup"],
             #""CallerIDNum":"100","ConnectedLineNum":"+79161234567","CallType":1,"CallStatus":"ANSWER","StartTime":\#(now - 30),"EndTime":\#(now - 5),"BillSec":18"#),
        ]
        for (id, events, fields) in calls {
            for event in events {
                var request = HTTPClientRequest(url: "\(base)/telephony/events/\(event)")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: #"{"Token":"\#(pbxToken)","UniqueId":"\#(id)",\#(fields)}"#))
                _ = try? await HTTPClient.shared.execute(request, timeout: .seconds(5))
            }
        }
    }

    /// Seed 003's requests: a person created, renamed and moved — one lead in the emulated portal; then the
    /// app's import of 100 people at once, whose leads travel in shared `batch` requests.
    static func createSamplePeople(base: String, seeded: Seeded) async {
        func send(_ method: HTTPMethod, _ path: String, _ body: String) async -> String? {
            var request = HTTPClientRequest(url: "\(base)/api/v1/tenants/\(seeded.tenant)/\(path)")
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(seeded.apiToken)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
            guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)),
                let buffer = try? await response.body.collect(upTo: 1 << 20)
            else { return nil }
            return JSONValue(jsonText: String(buffer: buffer))?.objectValue?["id"]?.stringValue
        }
        guard let id = await send(.POST, "people", #"{"full_name":"Иван Иванов","phone":"+77001112233","stage":"NEW","external_id":"core-1"}"#) else { return }
        _ = await send(.PATCH, "people/\(id)", #"{"full_name":"Иван Петров","phone":"+77001112233","stage":"IN_PROCESS"}"#)
        _ = await send(.POST, "people/\(id)/move", #"{"stage":"CONVERTED"}"#)
        _ = await send(.POST, "people", #"{"full_name":"Мария Смирнова","phone":"8 (916) 555-12-34","email":"maria@example.ru","stage":"NEW"}"#)
        for n in 1...100 {
            _ = await send(.POST, "people", #"{"full_name":"Импорт \#(n)","phone":"+7925\#(String(format: "%07d", n))","stage":"NEW","external_id":"import-\#(n)"}"#)
        }
    }

    static func printGuide(
        _ seeded: Seeded, base: String, retailCRM: String, bitrix24: String, amoCRM: String, pbxPort: Int, dataDir: String, health: String?,
        accountURL: String?, mirrorURL: String?, llm: String
    ) {
        let tenant = seeded.tenant
        // The mirror is queried where it lives: the tenant's SQLite file, or the PostgreSQL given with --mirror-url.
        func query(_ sql: String) -> String {
            if let mirrorURL {
                return "psql '\(mirrorURL)' -c \"SET search_path TO switchboard_demo; \(sql)\""
            }
            return "sqlite3 \(dataDir)/mirrors/\(seeded.tenantID).sqlite '\(sql)'"
        }
        // Written straight to the file handle so it appears at once even when stdout is a pipe.
        let guide = """

            Switchboard demo is running at \(base)   (Ctrl-C to stop)
            Data: \(dataDir) (embedded SQLite)\(seeded.reused ? " — reused; new credentials issued" : "")
            \(health.map { "Health check: \($0)\n" } ?? "")
            RetailCRM        \(retailCRM)  (Sandbox emulator; what it received: \(retailCRM)/sandbox/state)
            Bitrix24         \(bitrix24)  (Sandbox emulator, 100,000 deals; the Switchboard app installed: OAuth tokens, online + offline
                             events, calls registered for users 1–3 on extensions 100–102; what it holds: \(bitrix24)/sandbox/state)
            amoCRM           \(amoCRM)  (Sandbox emulator, 10,000 leads; connected through OAuth, webhooks to this demo, calls posted
                             to contacts, users 6158035–37 on extensions 100–102; what it got: \(amoCRM)/sandbox/state)
            PBX (AMI)        127.0.0.1:\(pbxPort)  (Sandbox simulator; calls are tracked from its events)
            Admin login      \(seeded.email) / \(seeded.password)
            Tenant           \(tenant)  (PBX token \(seeded.pbxToken))
            Tenant API token \(seeded.apiToken)

            Try:
              curl -s \(base)/health
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations/asterisk/test
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/logs
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/calls     # three sample calls from the "PBX"
              curl -s -X POST \(base)/telephony/events/dial -d '{"Token":"\(seeded.pbxToken)","UniqueId":"my-call-1","CallerIDNum":"+79161234567","CallType":0,"Extensions":["101"]}'
              curl -s -X POST \(base)/telephony/events/hangup -d '{"Token":"\(seeded.pbxToken)","UniqueId":"my-call-1","CallerIDNum":"+79161234567","CallType":0,"Extensions":["101"],"CallStatus":"ANSWER","BillSec":42}'
              curl -s \(retailCRM)/sandbox/state                              # the cards and call history the emulated RetailCRM got
              curl -s '\(base)/retailcrm/make-call?clientId=\(seeded.clientID)&userId=19&phone=%2B79161234567'   # click-to-call as RetailCRM does it
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/managers   # RetailCRM users ↔ PBX extensions
              curl -s -X PUT -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/managers -d '{"managers":[{"crm_user_id":"18","extension":"100"},{"crm_user_id":"19","extension":"101"},{"crm_user_id":"22","extension":"102"}]}'
              curl -s '\(base)/telephony/route?Token=\(seeded.pbxToken)&phone=%2B375296254070'   # responsible manager's extension for a caller
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations/retailcrm/test
              \(accountURL.map { "open \($0)   # RetailCRM's \"go to account\" page" } ?? "# (the RetailCRM module is not registered)")
              curl -s -X POST \(base)/api/v1/auth/login -d '{"email":"\(seeded.email)","password":"\(seeded.password)"}'
              TOKEN=$(curl -s -X POST \(base)/api/v1/auth/login -d '{"email":"\(seeded.email)","password":"\(seeded.password)"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')
              curl -s -H "Authorization: Bearer $TOKEN" \(base)/api/v1/jobs          # background jobs and their results
              curl -s -H "Authorization: Bearer $TOKEN" -X POST \(base)/api/v1/jobs -d '{"kind":"integration.test","tenant":"\(tenant)","payload":{"kind":"asterisk"}}'
              curl -s -H "Authorization: Bearer $TOKEN" \(base)/api/v1/workers
              curl -s -H "Authorization: Bearer $TOKEN" -X POST \(base)/api/v1/tenants/\(tenant)/integrations/retailcrm/register   # (re-)register the module
              curl -s -H "Authorization: Bearer $TOKEN" \(base)/stats                # gateway cache hits/misses, breakers, queue depth
              curl -s -H "Authorization: Bearer $TOKEN" \(base)/api/v1/tenants/\(tenant)/schedules   # recurring jobs (cron, tenant time zone)
              curl -s -H "Authorization: Bearer $TOKEN" -X POST \(base)/api/v1/tenants/\(tenant)/schedules -d '{"name":"hourly prune","kind":"jobs.prune","every_seconds":3600}'
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/sync/status   # the Bitrix24 mirror filling up: rows, %, rate, ETA
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/sync/logs
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/webhooks/registered   # the app's handlers: online, offline, click-to-call
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations/bitrix24/authorize   # OAuth: the portal's consent URL
              curl -s \(bitrix24)/sandbox/state | head -c 2000      # calls registered/finished in the portal, bindings, offline queue
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/sync/start/deal -d '{"sync_type":"incremental"}'
              swift run switchboard sync status \(tenant) --data-dir \(dataDir)    # the same, from the CLI (sync run \(tenant) deal --full: with a progress bar)
              \(query("SELECT stage_id_label, COUNT(*), SUM(opportunity) FROM bitrix24_deals GROUP BY 1"))
              \(query("SELECT external_id, outcome_label, customer_phone, contact_id, deal_id FROM switchboard_calls_crm"))
              \(mirrorURL == nil ? "# the mirror on your own PostgreSQL instead: demo --mirror-url postgres://…, or for any tenant:" : "# the mirror is on your PostgreSQL (schema switchboard_demo); check the connection:")
              curl -s -X \(mirrorURL == nil ? "PUT" : "POST") -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations/postgres\(mirrorURL == nil ? #" -d '{"settings":{"schema":"crm"},"secrets":{"url":"postgres://user:password@host:5432/db"},"enabled":true}'"# : "/test")
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/people   # seed 003: people and their leads (crm.lead_id, status)
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' -H 'Idempotency-Key: demo-1' \(base)/api/v1/tenants/\(tenant)/people -d '{"full_name":"Пётр Сидоров","phone":"+79161112233","stage":"NEW"}'
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/people -d '{"full_name":"Без телефона","stage":"NEW"}'   # 400: Missing phone number
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/people/core-1/move -d '{"stage":"IN_PROCESS"}'
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' '\(base)/api/v1/tenants/\(tenant)/events?since=0'   # replies: crm.synced with bitrix_lead_id, crm.failed with reason
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/people/settings   # stage mapping, dedup, retries, callback
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' '\(base)/api/v1/tenants/\(tenant)/logs?integration=bitrix24&limit=5'   # the 100 imported people: their leads went in shared batch requests
              curl -s -X PUT -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/people/settings -d '{"entity":"deal","deal_category":1,"stages":{"NEW":"C1:NEW","IN_PROCESS":"C1:PREPARATION","CONVERTED":"C1:WON"}}'   # deal mode: new people become a contact + a deal
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' '\(base)/api/v1/tenants/\(tenant)/sync/status?integration=amocrm'   # the amoCRM mirror
              \(query("SELECT internal_status, status_id_label, COUNT(*), SUM(price) FROM amocrm_leads GROUP BY 1, 2"))
              \(query("SELECT utm_source, COUNT(*) FROM amocrm_leads GROUP BY 1"))
              \(query("SELECT id, name, updated_at FROM amocrm_leads WHERE id = 1"))   # edited in amoCRM 20 s after start: arrives by webhook (after the Bitrix24 mirror jobs ahead of it)
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/crm/sync-pipelines   # seed 000: a job id to follow
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations/amocrm/mapping   # status map → your stages, UTM fields
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/integrations/amocrm/test
              curl -s \(base)/api/webhooks/amo/health; curl -s \(base)/api/webhooks/amo/test   # seed 004's endpoints
              curl -s \(amoCRM)/sandbox/state | head -c 2000       # calls, tasks, popups and webhook deliveries of the emulated account
              curl -s -X PUT -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/people/settings -d '{"crm":"amocrm","stages":{"NEW":"40166521","IN_PROCESS":"40166524","CONVERTED":"142"}}'   # people → amoCRM leads
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/schema.md | head -60   # data dictionary: every mirror table and column, joins, masked examples
              swift run switchboard dictionary \(tenant) --data-dir \(dataDir) --format json | head -c 2000
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/query -d '{"sql":"SELECT stage_id_label, COUNT(*), SUM(opportunity) FROM bitrix24_deals WHERE deleted_at IS NULL GROUP BY 1 ORDER BY 2 DESC"}'
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/query -d '{"sql":"DELETE FROM bitrix24_deals"}'   # 400: the query may only read
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/charts/ask -d '{"question":"Сумма сделок по стадиям"}'
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/charts/ask -d '{"question":"deals by manager over the last 3 months"}'
              # then open the answer's links.svg, e.g. curl -s -H 'Authorization: Bearer …' \(base)/api/v1/tenants/\(tenant)/charts/<id>.svg?theme=dark > chart.svg
              # The LLM planner talks to \(llm); "planner":"built-in" skips it, "llm" insists on it:
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/charts/ask -d '{"question":"Конверсия по стадиям","planner":"llm"}'
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/charts/ask -d '{"question":"Звонки по дням недели и часам"}'   # heatmap over 90 days of call history
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/llm/usage   # tokens per day
              swift run switchboard ask \(tenant) "Выигранные и проигранные сделки по месяцам" --data-dir \(dataDir)   # drawn in the terminal
              swift run switchboard ask \(tenant) "calls by outcome" --format svg --out calls.svg --data-dir \(dataDir)
              curl -s -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/dashboards   # a sample dashboard appears once the mirror has synced (about a minute)
              curl -s -X POST -H 'Authorization: Bearer \(seeded.apiToken)' \(base)/api/v1/tenants/\(tenant)/dashboards/<id>/share -d '{"days":7}'   # a read-only link: open \(base)<path>
              curl -s \(base)/openapi.json


            """
        FileHandle.standardOutput.write(Data(guide.utf8))
    }
}
