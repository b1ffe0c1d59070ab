import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Server
import Storage
import Synchronization
import SwitchboardCore
import Testing

@Suite("Ops endpoints, request ids, logs and secrets")
struct OpsTests {
    @Test("health reports database and migrations; 503 when migrations are pending", arguments: TestBackend.all)
    func health(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let response = try await client.send(.get, "/health")
            #expect(response.status == .ok)
            #expect(response.object["ready"] as? Bool == true)
            let components = try #require(response.object["components"] as? [String: [String: String]])
            #expect(components["database"]?["status"] == "up")
            #expect(components["migrations"]?["status"] == "current")
            #expect(try await client.send(.get, "/health/live").status == .ok)
            // A build that expects one more migration than the database has: live, but not ready.
            var newer = world.services
            newer.migrator = Migrator(
                migrations: ControlMigrations.all + [Migration(version: 99_999, name: "future") { _ in [] }])
            let app = Application(router: buildRouter(services: newer))
            try await app.test(.router) { client in
                let response = try await client.send(.get, "/health")
                #expect(response.status == .serviceUnavailable)
                #expect(response.object["live"] as? Bool == true)
                #expect((response.object["components"] as? [String: [String: String]])?["migrations"]?["status"] == "pending")
            }
        }
    }

    @Test("stats count requests per tenant; metrics are Prometheus text; both honour the ops token")
    func statsAndMetrics() async throws {
        let settings = ServerSettings(opsToken: "ops-token-for-monitoring", bcryptCost: 4)
        try await TestSupport.withApp(.sqlite, settings: settings) { client, world in
            _ = try await client.send(.get, "/api/v1/tenants/alpha/integrations", token: world.tenantA.apiTokenPlaintext)
            _ = try await client.send(.get, "/api/v1/tenants/alpha/nope", token: world.tenantA.apiTokenPlaintext)
            #expect(try await client.send(.get, "/stats").status == .unauthorized)
            #expect(try await client.send(.get, "/metrics", token: world.tenantA.apiTokenPlaintext).status == .unauthorized)
            let stats = try await client.send(.get, "/stats", token: "ops-token-for-monitoring")
            let alpha = try #require((stats.object["tenants"] as? [String: [String: Int]])?["alpha"])
            #expect(alpha["requests"] == 1)
            await world.services.breakers.record("alpha:retailcrm", success: true)
            let withBreaker = try await client.send(.get, "/stats", token: "ops-token-for-monitoring")
            #expect((withBreaker.object["breakers"] as? [String: String])?["alpha:retailcrm"] == "closed")
            let metrics = try await client.send(.get, "/metrics", token: world.adminToken)
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains(#"http_requests_total{method="GET",route="/api/v1/tenants/{tenant}/integrations",status="200"}"#))
        }
    }

    @Test("request ids are echoed or generated and appear in every log line of the request")
    func requestIDs() async throws {
        let logs = LogCapture()
        try await TestSupport.withApp(.sqlite, logs: logs) { client, world in
            let echoed = try await client.send(.get, "/health", headers: [HTTPField.Name("X-Request-Id")!: "abc-123"])
            #expect(echoed.headers[HTTPField.Name("X-Request-Id")!] == "abc-123")
            let hostile = try await client.send(.get, "/health", headers: [HTTPField.Name("X-Request-Id")!: "bad id\"\n"])
            #expect(hostile.headers[HTTPField.Name("X-Request-Id")!] != "bad id\"\n")
            _ = try await client.send(.get, "/api/v1/tenants/alpha", token: world.tenantA.apiTokenPlaintext)
        }
        let lines = logs.all.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        let access = lines.filter { $0["message"] == "request" }
        #expect(access.count == 3)
        #expect(access.first?["request_id"] == "abc-123")
        #expect(access.last?["tenant"] == "alpha")
        #expect(access.allSatisfy { $0["route"] != nil && $0["status"] != nil && $0["ts"] != nil })
    }

    @Test("no stored secret ever appears in a response or a log line", arguments: TestBackend.all)
    func secretsNeverLeak(backend: TestBackend) async throws {
        let logs = LogCapture()
        let secrets = ["rc-api-key-5f2b9c8e1d", "ami-password-77aa33bb", "bx-webhook-key-q1w2e3r4"]
        var responses: [String] = []
        let collected = ResponseLog()
        try await TestSupport.withApp(backend, logs: logs) { client, world in
            let token = world.tenantA.apiTokenPlaintext
            func record(_ response: TestResponse) { collected.append(response.text + " \(response.headers)") }
            record(try await client.send(
                .put, "/api/v1/tenants/alpha/integrations/retailcrm", token: token,
                json: #"{"settings":{"base_url":"http://127.0.0.1:1"},"secrets":{"api_key":"\#(secrets[0])"}}"#))
            record(try await client.send(
                .put, "/api/v1/tenants/alpha/integrations/asterisk", token: token,
                json: #"{"settings":{"host":"127.0.0.1","port":1},"secrets":{"username":"u","secret":"\#(secrets[1])"}}"#))
            record(try await client.send(
                .put, "/api/v1/tenants/alpha/integrations/bitrix24", token: token,
                json: #"{"settings":{"portal_url":"http://127.0.0.1:1"},"secrets":{"webhook_key":"\#(secrets[2])"},"enabled":true,"bogus":1}"#))
            record(try await client.send(
                .put, "/api/v1/tenants/alpha/integrations/bitrix24", token: token,
                json: #"{"settings":{"portal_url":"http://127.0.0.1:1"},"secrets":{"webhook_key":"\#(secrets[2])"},"enabled":true}"#))
            for kind in ["retailcrm", "asterisk", "bitrix24"] {
                record(try await client.send(.get, "/api/v1/tenants/alpha/integrations/\(kind)", token: token))
                record(try await client.send(.post, "/api/v1/tenants/alpha/integrations/\(kind)/test", token: token))
                record(try await client.send(.post, "/api/v1/tenants/alpha/integrations/\(kind)/enable", token: token))
            }
            record(try await client.send(.get, "/api/v1/tenants/alpha/integrations", token: token))
            record(try await client.send(.get, "/api/v1/tenants/alpha/logs", token: token))
            record(try await client.send(.get, "/metrics", token: world.adminToken))
            record(try await client.send(.get, "/stats", token: world.adminToken))
            // The secrets really are stored: the app can read them back internally.
            let stored = try await world.services.stores.integrations.find(tenantID: world.tenantA.tenant.id, kind: .retailcrm)
            #expect(stored?.secrets["api_key"] == secrets[0])
        }
        responses = collected.all
        #expect(responses.count > 10)
        for secret in secrets {
            #expect(!responses.contains { $0.contains(secret) }, "a response contained \(secret)")
            #expect(!logs.all.contains { $0.contains(secret) }, "a log line contained \(secret)")
        }
        #expect(!logs.all.isEmpty)
    }
}

/// Responses gathered inside a Sendable closure.
final class ResponseLog: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ text: String) { storage.withLock { $0.append(text) } }
    var all: [String] { storage.withLock { $0 } }
}

