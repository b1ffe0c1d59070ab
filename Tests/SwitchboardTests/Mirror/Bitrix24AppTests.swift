import Access
import Bitrix24
import Foundation
import Hummingbird
import HummingbirdTesting
import Jobs
import Mirror
import SQLKit
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

/// A portal connected through a Bitrix24 app: OAuth code flow, install handler and `ONAPPINSTALL`, tokens
/// renewed once however many workers find them expired, offline events drained without loss.
@Suite("Bitrix24 app (OAuth) and offline events")
struct Bitrix24AppTests {
    static func form(_ client: any TestClientProtocol, _ uri: String, _ body: String) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    static func appIntegration(_ client: any TestClientProtocol, token: String, base: String, emulator: Bitrix24Emulator) async throws {
        let put = try await client.send(
            .put, "/api/v1/tenants/alpha/integrations/bitrix24", token: token,
            json: #"{"settings":{"portal_url":"\#(base)","client_id":"\#(emulator.clientID)","oauth_url":"\#(base)/oauth/token/"},"secrets":{"client_secret":"\#(emulator.clientSecret)"},"enabled":true}"#)
        #expect(put.status == .ok)
    }

    static func title(_ world: TestWorld, id: Int) async throws -> String? {
        try await MirrorDatabase.with(tenantID: world.tenantA.tenant.id, main: world.services.database, integrations: world.services.stores.integrations) { mirror in
            try await mirror.database.run { sql in
                try await sql.raw("SELECT title FROM \(unsafeRaw: mirror.table("bitrix24_deals")) WHERE id = \(literal: id)").first()
            }?.decode(column: "title", as: String.self)
        }
    }

    @Test("authorize → callback stores tokens; state is one-time; expired tokens are renewed once for 8 concurrent calls; offline events drain, also after a crash", arguments: TestBackend.all)
    func oauthFlowAndOfflineEvents(backend: TestBackend) async throws {
        let emulator = Bitrix24Emulator(deals: 80, seed: 3)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(backend) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                let tenantID = world.tenantA.tenant.id
                try await Self.appIntegration(client, token: token, base: base, emulator: emulator)
                let wrongKind = try await client.send(.post, "/api/v1/tenants/alpha/integrations/retailcrm/authorize", token: token)
                #expect(wrongKind.status == .badRequest && wrongKind.errorField == "kind")
                let authorize = try await client.send(.post, "/api/v1/tenants/alpha/integrations/bitrix24/authorize", token: token)
                #expect(authorize.status == .ok)
                let url = try #require(authorize.object["authorize_url"] as? String)
                #expect(url.hasPrefix("\(base)/oauth/authorize/?") && url.contains("client_id=\(emulator.clientID)"))
                let state = try #require(URLComponents(string: url)?.queryItems?.first { $0.name == "state" }?.value)

                let code = await emulator.issueAuthorizationCode()
                let forged = try await client.send(.get, "/oauth/bitrix24/alpha/callback?code=\(code)&state=nope")
                #expect(forged.status == .unauthorized && forged.errorField == "state")
                let noCode = try await client.send(.get, "/oauth/bitrix24/alpha/callback?state=\(state)")
                #expect(noCode.status == .badRequest && noCode.errorField == "code")
                let done = try await client.send(.get, "/oauth/bitrix24/alpha/callback?code=\(code)&state=\(state)&domain=sandbox&member_id=x")
                #expect(done.status == .ok && done.text.contains("Bitrix24"))
                let replay = try await client.send(.get, "/oauth/bitrix24/alpha/callback?code=\(await emulator.issueAuthorizationCode())&state=\(state)")
                #expect(replay.status == .unauthorized)
                var integration = try #require(try await world.services.stores.integrations.find(tenantID: tenantID, kind: .bitrix24))
                #expect(Bitrix24Access.mode(integration) == .app)
                #expect(integration.settings["client_endpoint"]?.stringValue == "\(base)/rest/")
                let shown = try await client.send(.get, "/api/v1/tenants/alpha/integrations/bitrix24", token: token)
                #expect(!shown.text.contains(integration.secrets["access_token"] ?? "-") && !shown.text.contains(integration.secrets["refresh_token"] ?? "-"))

                // A sync as the app.
                let started = try await client.send(.post, "/api/v1/tenants/alpha/sync/start/deal", token: token, json: #"{"sync_type":"full"}"#)
                let jobID = try #require(started.object["job_id"] as? String)
                try await TestSupport.runWorkers(world) { try await world.services.jobs.find(id: jobID)?.state == .succeeded }

                // Every token expires at once; eight workers hit expired_token together: one refresh, all succeed.
                await emulator.expireAccessTokens()
                let access = world.services.bitrix24
                let app = try access.client(integration, event: "test")
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<8 { group.addTask { _ = try await app.call("user.get") } }
                    try await group.waitForAll()
                }
                #expect(await emulator.tokenRefreshes == 1)
                #expect(await world.services.bitrix24Tokens.refreshCount == 1)
                integration = try #require(try await world.services.stores.integrations.find(tenantID: tenantID, kind: .bitrix24))
                let logs = try await client.send(.get, "/api/v1/tenants/alpha/logs?integration=bitrix24&limit=200", token: token)
                #expect(!logs.text.contains(integration.secrets["access_token"] ?? "-") && !logs.text.contains(integration.secrets["refresh_token"] ?? "-"))

                // Handlers online and offline; the online handler is unreachable, so online deliveries are lost.
                let register = try await client.send(.post, "/api/v1/tenants/alpha/webhooks/register?handler_base_url=http://127.0.0.1:9", token: token)
                #expect(register.status == .ok)
                #expect((register.object["offline_events"] as? [String])?.count == 12)
                #expect(await emulator.bindings.filter(\.offline).count == 12)
                let again = try await client.send(.post, "/api/v1/tenants/alpha/webhooks/register?handler_base_url=http://127.0.0.1:9", token: token)
                #expect(again.status == .ok && (again.object["errors"] as? [String: Any])?.isEmpty == true)
                integration = try #require(try await world.services.stores.integrations.find(tenantID: tenantID, kind: .bitrix24))
                #expect(integration.settings["offline_events"] == .bool(true))
                #expect(try await Bitrix24OfflineEvents.schedules(world.services.stores.integrations).map(\.tenantID) == [tenantID])

                await emulator.configure(deliveryTimeout: 1)
                await emulator.updateRecord(entity: .deal, id: 9, fields: ["TITLE": "Изменено, онлайн-событие потеряно"])
                await emulator.updateRecord(entity: .deal, id: 9, fields: ["TITLE": "Изменено дважды"])
                await emulator.deleteRecord(entity: .deal, id: 11)
                await emulator.flushDeliveries()
                #expect(await emulator.lostDeliveries >= 2)
                #expect(await emulator.offlineQueueCount == 2)  // latest state per object: two edits of deal 9 are one record
                let offline = Bitrix24OfflineEvents(database: world.services.database, sources: world.services.mirrorSources)
                let drained = try await offline.drain(tenantID: tenantID, logger: TestSupport.logger)
                #expect(drained.objectValue?["taken"] == .number(2))
                #expect(try await Self.title(world, id: 9) == "Изменено дважды")
                #expect(await emulator.offlineQueueCount == 0)

                // A crash after taking records: the saved process id brings the same records back.
                await emulator.updateRecord(entity: .deal, id: 10, fields: ["TITLE": "После сбоя"])
                let taken = try await app.takeOfflineEvents(processID: nil)
                #expect(taken.events.map(\.objectID) == [10])
                try await world.services.stores.cursors.set(tenantID: tenantID, integration: "bitrix24", name: "offline_process_id", value: taken.processID)
                #expect(try await app.takeOfflineEvents(processID: nil).events.isEmpty)  // hidden from other readers
                _ = try await offline.drain(tenantID: tenantID, logger: TestSupport.logger)
                #expect(try await Self.title(world, id: 10) == "После сбоя")
                #expect(await emulator.offlineQueueCount == 0)
                #expect(try await world.services.stores.cursors.get(tenantID: tenantID, integration: "bitrix24", name: "offline_process_id") == nil)

                let unregister = try await client.send(.delete, "/api/v1/tenants/alpha/webhooks/unregister?handler_base_url=http://127.0.0.1:9", token: token)
                #expect(unregister.status == .ok)
                #expect(await emulator.bindings.filter { !$0.outgoingWebhook }.isEmpty)
                #expect(try await Bitrix24OfflineEvents.schedules(world.services.stores.integrations).isEmpty)
            }
        }
    }

    @Test("install handler and ONAPPINSTALL: tokens the configured portal accepts are stored, forged ones are 401; ONAPPUNINSTALL drops them")
    func installPaths() async throws {
        let emulator = Bitrix24Emulator(deals: 20, seed: 4)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withApp(.sqlite) { client, world in
                let token = world.tenantA.apiTokenPlaintext
                let tenantID = world.tenantA.tenant.id
                try await Self.appIntegration(client, token: token, base: base, emulator: emulator)
                let forged = try await Self.form(client, "/hooks/bitrix24/alpha/install?DOMAIN=sandbox", "AUTH_ID=forged&REFRESH_ID=forged&AUTH_EXPIRES=3600")
                #expect(forged.status == .unauthorized && forged.errorField == "AUTH_ID")
                let noRefresh = try await Self.form(client, "/hooks/bitrix24/alpha/install", "AUTH_ID=abc")
                #expect(noRefresh.status == .badRequest && noRefresh.errorField == "REFRESH_ID")
                // Tokens the portal accepts, but of another app installed there: refused, nothing stored.
                let (otherAccess, otherRefresh) = await emulator.issueTokens(app: "local.someone-else.1")
                let otherApp = try await Self.form(
                    client, "/hooks/bitrix24/alpha/install?DOMAIN=sandbox", "AUTH_ID=\(otherAccess)&REFRESH_ID=\(otherRefresh)&AUTH_EXPIRES=3600")
                #expect(otherApp.status == .unauthorized && otherApp.errorField == "AUTH_ID")
                let stored = try await world.services.stores.integrations.find(tenantID: tenantID, kind: .bitrix24)
                #expect(stored?.secrets["refresh_token"] == nil)
                let (access, refresh) = await emulator.issueTokens()
                let installed = try await Self.form(
                    client, "/hooks/bitrix24/alpha/install?DOMAIN=sandbox&PROTOCOL=1&LANG=ru",
                    "AUTH_ID=\(access)&AUTH_EXPIRES=3600&REFRESH_ID=\(refresh)&member_id=\(emulator.memberID)&status=L&PLACEMENT=DEFAULT")
                #expect(installed.status == .ok && installed.text.contains("installFinish"))
                var integration = try #require(try await world.services.stores.integrations.find(tenantID: tenantID, kind: .bitrix24))
                #expect(integration.secrets["refresh_token"] == refresh && integration.settings["member_id"]?.stringValue == emulator.memberID)

                let forgedEvent = try await Self.form(
                    client, "/hooks/bitrix24/alpha", "event=ONAPPINSTALL&auth%5Baccess_token%5D=forged&auth%5Bapplication_token%5D=evil")
                #expect(forgedEvent.status == .unauthorized)
                let event = try await Self.form(client, "/hooks/bitrix24/alpha", await emulator.appInstallEvent())
                #expect(event.status == .ok && event.object["status"] as? String == "installed")
                integration = try #require(try await world.services.stores.integrations.find(tenantID: tenantID, kind: .bitrix24))
                #expect(integration.secrets["application_token"] == emulator.applicationToken)
                let crmEvent = try await Self.form(
                    client, "/hooks/bitrix24/alpha", "event=ONCRMDEALUPDATE&data%5BFIELDS%5D%5BID%5D=3&auth%5Bapplication_token%5D=\(emulator.applicationToken)")
                #expect(crmEvent.status == .ok && crmEvent.object["status"] as? String == "accepted")

                let uninstall = try await Self.form(client, "/hooks/bitrix24/alpha", "event=ONAPPUNINSTALL&auth%5Bapplication_token%5D=\(emulator.applicationToken)")
                #expect(uninstall.status == .ok)
                integration = try #require(try await world.services.stores.integrations.find(tenantID: tenantID, kind: .bitrix24))
                #expect(integration.secrets["access_token"] == nil && integration.secrets["refresh_token"] == nil)
            }
        }
    }

    @Test("two processes on one PostgreSQL find the token expired together: one refresh, the rotated refresh token is not lost")
    func refreshAcrossProcesses() async throws {
        guard TestBackend.all.contains(.postgres) else { return }
        let emulator = Bitrix24Emulator(seed: 5)
        try await SandboxServer.withBitrix24(emulator) { base in
            try await TestSupport.withDatabase(.postgres) { database in
                let created = try await TenantProvisioning.create(database: database, secrets: TestSupport.secrets, slug: "two", name: "Two")
                let tenantID = created.tenant.id
                let (access, refresh) = await emulator.issueTokens()
                _ = try await IntegrationRepository(database, secrets: TestSupport.secrets).save(
                    tenantID: tenantID, kind: .bitrix24,
                    change: .init(
                        enabled: true,
                        settings: ["portal_url": .string(base), "client_id": .string(emulator.clientID), "oauth_url": .string("\(base)/oauth/token/"),
                                   "client_endpoint": .string("\(base)/rest/"), "token_expires_at": .number(Date().timeIntervalSince1970 + 3600)],
                        secrets: ["client_secret": emulator.clientSecret, "access_token": access, "refresh_token": refresh]))
                await emulator.expireAccessTokens()
                // Two keepers stand for two processes: each has its own in-memory single-flight.
                let keepers = (0..<2).map { _ in Bitrix24TokenKeeper(database: database, secrets: TestSupport.secrets) }
                let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                    for keeper in keepers { for _ in 0..<3 { group.addTask { try await keeper.renewedToken(tenantID: tenantID, rejecting: access) } } }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                #expect(tokens.count == 1 && !tokens.contains(access))
                #expect(await emulator.tokenRefreshes == 1)
                let client = Bitrix24Client(endpoint: .app(clientEndpoint: "\(base)/rest/", tokens: keepers[1].source(tenantID: tenantID)))
                _ = try await client.call("user.get")
            }
        }
    }

    @Test("a portal that refuses connections fails a request in seconds, not after the 60 s request timeout")
    func unreachablePortalFailsFast() async throws {
        try await TestSupport.withDatabase(.sqlite) { database in
            let created = try await TenantProvisioning.create(database: database, secrets: TestSupport.secrets, slug: "down", name: "Down")
            let integration = try await IntegrationRepository(database, secrets: TestSupport.secrets).save(
                tenantID: created.tenant.id, kind: .bitrix24,
                change: .init(enabled: true, settings: ["portal_url": "http://127.0.0.1:1"], secrets: ["webhook_url": "http://127.0.0.1:1/rest/1/code/"]))
            let access = Bitrix24Access(
                database: database, tokens: Bitrix24TokenKeeper(database: database, secrets: TestSupport.secrets), rateLimiter: RateLimiter(),
                breakers: CircuitBreakers())
            let started = ContinuousClock.now
            await #expect(throws: Bitrix24Error.self) { _ = try await access.client(integration, event: "test").call("user.get") }
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }
}
