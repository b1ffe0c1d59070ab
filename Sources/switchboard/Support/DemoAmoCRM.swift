import AsyncHTTPClient
import Foundation
import Jobs
import Mirror
import NIOCore
import NIOHTTP1
import Sandbox
import Server
import Storage
import SwitchboardCore

/// The demo's amoCRM account (the Sandbox emulator, never a real one): connected through the real OAuth
/// flow, its webhooks pointed at the demo, mirrored, taking calls.
extension DemoSeed {
    /// The integration before OAuth: the account's address and the integration's client id and secret,
    /// seed 004's status map, calls on; amoCRM users on extensions 100–102.
    static func amoCRMSettings(_ services: AppServices, tenantID: String, base: String, emulator: AmoCRMEmulator) async throws {
        _ = try await services.stores.integrations.save(
            tenantID: tenantID, kind: .amocrm,
            change: .init(
                enabled: true,
                settings: [
                    "base_url": .string(base), "client_id": .string(emulator.clientID), "oauth_url": .string("\(base)/oauth"),
                    "account_id": .string(String(emulator.accountID)), "telephony": true,
                    "status_map": ["40166518": "new", "40166521": "contacted", "40166524": "presentation", "40166527": "deal", "142": "completed"],
                ],
                secrets: ["client_secret": .some(emulator.clientSecret)]))
        try await services.stores.managers.replace(
            tenantID: tenantID, integration: .amocrm,
            with: [ManagerExtension(crmUserID: "6158035", extensionNumber: "100", crmUserName: "Анна Смирнова"),
                   ManagerExtension(crmUserID: "6158036", extensionNumber: "101", crmUserName: "Олег Петров"),
                   ManagerExtension(crmUserID: "6158037", extensionNumber: "102", crmUserName: "Ирина Кузнецова")])
    }

    /// Connects the account as an admin would: `authorize` gives the consent address, the admin agrees
    /// (the emulator issues the code), amoCRM redirects to the callback. Then webhooks point at the demo
    /// and the mirror fills; a little later a "user" edits a lead and the change arrives by webhook.
    static func connectAmoCRM(_ services: AppServices, emulator: AmoCRMEmulator, base: String, seeded: Seeded) async {
        func call(_ method: HTTPMethod, _ path: String, token: Bool = true) async -> (Int, JSONValue?) {
            var request = HTTPClientRequest(url: base + path)
            request.method = method
            if token { request.headers.add(name: "Authorization", value: "Bearer \(seeded.apiToken)") }
            guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10)),
                let body = try? await response.body.collect(upTo: 1 << 20)
            else { return (0, nil) }
            return (Int(response.status.code), JSONValue(jsonText: String(buffer: body)))
        }
        let (status, consent) = await call(.POST, "/api/v1/tenants/\(seeded.tenant)/integrations/amocrm/authorize")
        guard status == 200, let url = consent?.objectValue?["authorize_url"]?.stringValue,
            let state = URLComponents(string: url)?.queryItems?.first(where: { $0.name == "state" })?.value
        else {
            FileHandle.standardError.write(Data("demo: amoCRM authorize answered HTTP \(status)\n".utf8))
            return
        }
        let code = await emulator.issueCode()
        let (connected, _) = await call(.GET, "/oauth/amocrm/\(seeded.tenantID)/callback?code=\(code)&state=\(state)&referer=127.0.0.1", token: false)
        if connected != 200 { FileHandle.standardError.write(Data("demo: the amoCRM OAuth callback answered HTTP \(connected)\n".utf8)) }
        // The demo has no public address for `…/integrations/amocrm/webhooks`: the hook is added the way an
        // admin adds one in the account's settings.
        let secret = Identifiers.randomToken(prefix: "amoh_", bytes: 24)
        _ = try? await services.stores.integrations.save(tenantID: seeded.tenantID, kind: .amocrm, change: .init(secrets: ["webhook_secret": .some(secret)]))
        await emulator.addWebhook("\(base)/hooks/amocrm/\(seeded.tenantID)/\(secret)")
        if !seeded.reused {
            _ = try? await services.jobs.enqueue(MirrorJobs.syncPipelinesJob(tenantID: seeded.tenantID, crm: "amocrm"))
            for entity in ["company", "contact", "lead"] {
                _ = try? await services.jobs.enqueue(MirrorJobs.syncJob(tenantID: seeded.tenantID, crm: "amocrm", entity: entity, mode: "full"))
            }
        }
        Task {
            try? await Task.sleep(for: .seconds(20))
            await emulator.userChanged("leads", id: 1, ["name": "Изменено в amoCRM — пришло вебхуком", "status_id": 40_166_524])
        }
    }
}
