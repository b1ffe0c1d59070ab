import Foundation
import HummingbirdTesting
import NIOCore
import NIOPosix
import Sandbox
import Server
import Storage
import SwitchboardCore
import Testing

@Suite("Tenant and integration API")
struct TenantAPITests {
    @Test("create a tenant, configure integrations, enable, test the connection, read the log", arguments: TestBackend.all)
    func fullFlow(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let admin = world.adminToken
            let created = try await client.send(
                .post, "/api/v1/tenants", token: admin,
                json: #"{"slug":"acme","name":"ООО Акме","default_country":"KZ","time_zone":"Asia/Almaty"}"#)
            #expect(created.status == .created)
            let pbx = try #require(created.object["pbx_token"] as? String)
            let apiToken = try #require((created.object["api_token"] as? [String: Any])?["token"] as? String)
            #expect(pbx.hasPrefix("pbx_") && apiToken.hasPrefix("sbt_"))
            #expect(try await client.send(.post, "/api/v1/tenants", token: admin, json: #"{"slug":"acme","name":"x"}"#).status == .conflict)

            let shown = try await client.send(.get, "/api/v1/tenants/acme", token: apiToken)
            #expect(shown.object["name"] as? String == "ООО Акме")
            #expect(shown.object["time_zone"] as? String == "Asia/Almaty")
            let patched = try await client.send(.patch, "/api/v1/tenants/acme", token: admin, json: #"{"name":"Acme"}"#)
            #expect(patched.object["name"] as? String == "Acme")

            // The Sandbox AMI simulator on loopback: the test logs in for real.
            let simulator = PBXSimulator(username: "switchboard", secret: "ami-secret-value-42", endpoints: ["100", "101"])
            try await PBXSimulator.run(simulator) { amiPort in
            let saved = try await client.send(
                .put, "/api/v1/tenants/acme/integrations/asterisk", token: apiToken,
                json: #"{"settings":{"host":"127.0.0.1","port":\#(amiPort)},"secrets":{"username":"switchboard","secret":"ami-secret-value-42"}}"#)
            #expect(saved.status == .ok)
            #expect(!saved.text.contains("ami-secret-value-42"))
            #expect((saved.object["secrets"] as? [String: String])?["secret"] == "am…42")
            #expect(saved.object["enabled"] as? Bool == false)
            #expect(try await client.send(.post, "/api/v1/tenants/acme/integrations/asterisk/enable", token: apiToken).object["enabled"] as? Bool == true)

            let tested = try await client.send(.post, "/api/v1/tenants/acme/integrations/asterisk/test", token: apiToken)
            #expect(tested.object["ok"] as? Bool == true, "\(tested.text)")
            #expect(tested.text.contains("logged in to 127.0.0.1:\(amiPort) as switchboard") && tested.text.contains("2 PJSIP endpoints: 100, 101"))
            }

            // Enabling RetailCRM without its key names the missing field.
            let retail = try await client.send(
                .put, "/api/v1/tenants/acme/integrations/retailcrm", token: apiToken,
                json: #"{"enabled":true,"settings":{"base_url":"https://acme.retailcrm.ru"}}"#)
            #expect(retail.status == .badRequest)
            #expect(retail.errorField == "secrets.api_key")

            let logs = try await client.send(.get, "/api/v1/tenants/acme/logs?integration=asterisk", token: apiToken)
            let items = try #require(logs.object["items"] as? [[String: Any]])
            #expect(items.first?["event_type"] as? String == "connection_test")
            #expect(items.first?["status"] as? String == "success")

            let list = try await client.send(.get, "/api/v1/tenants/acme/integrations", token: apiToken)
            #expect((list.object["items"] as? [Any])?.count == 1)
            #expect(try await client.send(.delete, "/api/v1/tenants/acme/integrations/asterisk", token: apiToken).status == .noContent)
            #expect(try await client.send(.get, "/api/v1/tenants/acme/integrations/asterisk", token: apiToken).status == .notFound)

            // PBX token: reveal and rotate are for admin users.
            let revealed = try await client.send(.get, "/api/v1/tenants/acme/pbx-token", token: admin)
            #expect(revealed.object["pbx_token"] as? String == pbx)
            let rotated = try await client.send(.post, "/api/v1/tenants/acme/pbx-token/rotate", token: admin)
            let newPBX = try #require(rotated.object["pbx_token"] as? String)
            #expect(try await world.services.stores.tenants.find(pbxToken: newPBX)?.slug == "acme")
            #expect(try await world.services.stores.tenants.find(pbxToken: pbx) == nil)

            #expect(try await client.send(.delete, "/api/v1/tenants/acme", token: admin).status == .noContent)
            #expect(try await client.send(.get, "/api/v1/tenants/acme", token: apiToken).status == .unauthorized)
        }
    }

    @Test("a failing connection test is reported in plain words and logged as an error")
    func failingTest() async throws {
        try await TestSupport.withApp(.sqlite) { client, world in
            let token = world.tenantA.apiTokenPlaintext
            let port = try PostgresHarness.freePort()  // nothing listens there
            _ = try await client.send(
                .put, "/api/v1/tenants/alpha/integrations/asterisk", token: token,
                json: #"{"settings":{"host":"127.0.0.1","port":\#(port)},"secrets":{"username":"u","secret":"s"}}"#)
            let tested = try await client.send(.post, "/api/v1/tenants/alpha/integrations/asterisk/test", token: token)
            #expect(tested.object["ok"] as? Bool == false)
            #expect(tested.text.contains("cannot reach AMI at 127.0.0.1:\(port): connection refused"))
            let logs = try await client.send(.get, "/api/v1/tenants/alpha/logs?status=error", token: token)
            #expect((logs.object["items"] as? [Any])?.count == 1)
            let bad = try await client.send(.get, "/api/v1/tenants/alpha/logs?limit=0", token: token)
            #expect(bad.status == .badRequest && bad.errorField == "limit")
        }
    }
}
