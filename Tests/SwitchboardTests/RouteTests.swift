import Foundation
import Hummingbird
import HummingbirdTesting
import Prometheus
import Server
import Storage
import SwitchboardCore
import Testing

/// Every route the router serves, as `METHOD /path/{param}`.
func servedRoutes(_ services: AppServices) -> [String] {
    buildRouter(services: services).routes.map { route in
        let path = route.path.description.hasPrefix("/") ? route.path.description : "/" + route.path.description
        return "\(route.method.rawValue) \(path)"
    }
}

@Suite("Routes: OpenAPI coverage and tenant isolation")
struct RouteTests {
    @Test("every served route is in /openapi.json and every documented route is served")
    func openAPIMatchesRouter() async throws {
        try await TestSupport.withApp(.sqlite) { client, world in
            let served = Set(servedRoutes(world.services))
            #expect(served == OpenAPIDocument.documentedRoutes)
            let response = try await client.send(.get, "/openapi.json")
            let paths = try #require(response.object["paths"] as? [String: [String: Any]])
            let fromJSON = Set(paths.flatMap { path, methods in methods.keys.map { "\($0.uppercased()) \(path)" } })
            #expect(fromJSON == served)
        }
    }

    /// Fills a route template for tenant `tenant`.
    private func concrete(_ path: String, tenant: String) -> String {
        path.replacingOccurrences(of: "{tenant}", with: tenant)
            .replacingOccurrences(of: "{kind}", with: "retailcrm")
            .replacingOccurrences(of: "{id}", with: Identifiers.newID())
    }

    @Test("tenant A's credentials get 404 on every tenant-scoped route of tenant B", arguments: TestBackend.all)
    func tenantIsolation(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            // A tenant admin of A and A's write token.
            let created = try await client.send(
                .post, "/api/v1/users", token: world.adminToken,
                json: #"{"email":"a-admin@example.com","password":"long enough password","role":"tenant_admin","tenant":"alpha"}"#)
            #expect(created.status == .created)
            let login = try await client.send(
                .post, "/api/v1/auth/login", json: #"{"email":"a-admin@example.com","password":"long enough password"}"#)
            let tenantAdminA = try #require(login.object["token"] as? String)
            // B has data that must stay invisible.
            _ = try await world.services.stores.integrations.save(
                tenantID: world.tenantB.tenant.id, kind: .retailcrm,
                change: .init(settings: ["base_url": .string("https://b.example")], secrets: ["api_key": "b-secret-key-123456"]))

            // CRM callbacks (`/hooks/bitrix24/{tenant}`) prove themselves with the CRM's own token, tested with them.
            let scoped = servedRoutes(world.services).filter { $0.contains("/api/v1/tenants/{tenant}") }
            #expect(scoped.count >= 15)
            for route in scoped {
                let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
                let method = HTTPRequest.Method(rawValue: parts[0])!
                for tenantKey in [world.tenantB.tenant.slug, world.tenantB.tenant.id] {
                    for (label, token) in [("A api token", world.tenantA.apiTokenPlaintext), ("A tenant admin", tenantAdminA)] {
                        let response = try await client.send(
                            method, concrete(parts[1], tenant: tenantKey), token: token, json: method == .get || method == .delete ? nil : "{}")
                        #expect(response.status == .notFound, "\(label) → \(route) on B answered \(response.status.code)")
                        #expect(!response.text.contains("b.example"))
                    }
                }
                // Without credentials: 401.
                let anonymous = try await client.send(method, concrete(parts[1], tenant: "alpha"))
                #expect(anonymous.status == .unauthorized, "anonymous \(route) answered \(anonymous.status.code)")
            }
            // B's data is unchanged and A still reaches its own tenant.
            let stillThere = try await world.services.stores.integrations.find(tenantID: world.tenantB.tenant.id, kind: .retailcrm)
            #expect(stillThere?.secrets["api_key"] == "b-secret-key-123456")
            #expect(try await client.send(.get, "/api/v1/tenants/alpha", token: world.tenantA.apiTokenPlaintext).status == .ok)
        }
    }

    @Test("admin-only routes refuse tenant credentials", arguments: TestBackend.all)
    func adminOnly(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let token = world.tenantA.apiTokenPlaintext
            #expect(try await client.send(.get, "/api/v1/users", token: token).status == .forbidden)
            #expect(try await client.send(.post, "/api/v1/tenants", token: token, json: #"{"slug":"x1","name":"x"}"#).status == .forbidden)
            #expect(try await client.send(.delete, "/api/v1/tenants/alpha", token: token).status == .forbidden)
            #expect(try await client.send(.get, "/api/v1/tenants/alpha/pbx-token", token: token).status == .forbidden)
            let listed = try await client.send(.get, "/api/v1/tenants", token: token)
            let slugs = (listed.object["items"] as? [[String: Any]])?.compactMap { $0["slug"] as? String }
            #expect(slugs == ["alpha"])
        }
    }
}
