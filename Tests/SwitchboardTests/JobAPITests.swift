import Foundation
import HummingbirdTesting
import Jobs
import Server
import ServiceLifecycle
import Storage
import SwitchboardCore
import Testing

@Suite("Job API and in-process workers")
struct JobAPITests {
    @Test("enqueue a known kind, run it on a worker, inspect, retry and cancel", arguments: TestBackend.all)
    func endToEnd(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let admin = world.adminToken
            let unknown = try await client.send(.post, "/api/v1/jobs", token: admin, json: #"{"kind":"crm.nonsense"}"#)
            #expect(unknown.status == .badRequest && unknown.errorField == "kind")

            _ = try await world.services.stores.integrations.save(
                tenantID: world.tenantA.tenant.id, kind: .retailcrm,
                change: .init(settings: ["base_url": "http://127.0.0.1:1"], secrets: ["api_key": "k-123456789"]))
            let created = try await client.send(
                .post, "/api/v1/jobs", token: admin,
                json: #"{"kind":"integration.test","tenant":"alpha","payload":{"kind":"retailcrm"},"unique_key":"test alpha retailcrm"}"#)
            #expect(created.status == .created)
            let id = try #require(created.object["id"] as? String)
            let again = try await client.send(
                .post, "/api/v1/jobs", token: admin,
                json: #"{"kind":"integration.test","tenant":"alpha","payload":{"kind":"retailcrm"},"unique_key":"test alpha retailcrm"}"#)
            #expect(again.status == .ok && again.object["id"] as? String == id && again.object["deduplicated"] as? Bool == true)

            // A worker runs it.
            let worker = JobWorker(
                queue: world.services.jobs, registry: StandardJobs.registry(services: world.services),
                configuration: .init(concurrency: 2, pollInterval: .milliseconds(50)), logger: TestSupport.logger)
            let group = ServiceGroup(services: [worker], logger: TestSupport.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let deadline = ContinuousClock.now + .seconds(15)
                while ContinuousClock.now < deadline, try await world.services.jobs.find(id: id)?.state != .succeeded {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let workers = try await client.send(.get, "/api/v1/workers", token: admin)
                #expect((workers.object["items"] as? [[String: Any]])?.first?["alive"] as? Bool == true)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            let shown = try await client.send(.get, "/api/v1/jobs/\(id)", token: admin)
            #expect(shown.object["state"] as? String == "succeeded")
            #expect((shown.object["result"] as? [String: Any])?["ok"] as? Bool == false)
            let logs = try await client.send(.get, "/api/v1/tenants/alpha/logs?integration=retailcrm", token: world.tenantA.apiTokenPlaintext)
            #expect((logs.object["items"] as? [Any])?.count == 1)

            // Cancel a scheduled job; retry brings it back.
            let later = try await client.send(
                .post, "/api/v1/jobs", token: admin, json: #"{"kind":"jobs.prune","run_at":"2099-01-01T00:00:00Z"}"#)
            let laterID = try #require(later.object["id"] as? String)
            #expect(later.object["state"] as? String == "scheduled")
            #expect(try await client.send(.post, "/api/v1/jobs/\(laterID)/cancel", token: admin).object["state"] as? String == "cancelled")
            #expect(try await client.send(.post, "/api/v1/jobs/\(laterID)/cancel", token: admin).status == .conflict)
            #expect(try await client.send(.post, "/api/v1/jobs/\(laterID)/retry", token: admin).object["state"] as? String == "available")
            #expect(try await client.send(.post, "/api/v1/jobs/\(id)/retry", token: admin).status == .conflict)

            let filtered = try await client.send(.get, "/api/v1/jobs?state=succeeded&kind=integration.test", token: admin)
            #expect((filtered.object["items"] as? [Any])?.count == 1)
            #expect(try await client.send(.get, "/api/v1/jobs?state=sleeping", token: admin).errorField == "state")
            let stats = try await client.send(.get, "/stats", token: admin)
            #expect((stats.object["jobs"] as? [String: Int])?["succeeded"] == 1)
        }
    }

    @Test("tenant admins see and enqueue only their tenant's jobs; tenant tokens get none", arguments: TestBackend.all)
    func scoping(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let admin = world.adminToken
            _ = try await client.send(
                .post, "/api/v1/users", token: admin,
                json: #"{"email":"b@bravo.example","password":"long enough password","role":"tenant_admin","tenant":"bravo"}"#)
            let login = try await client.send(.post, "/api/v1/auth/login", json: #"{"email":"b@bravo.example","password":"long enough password"}"#)
            let bravoAdmin = try #require(login.object["token"] as? String)

            let alphaJob = try await client.send(
                .post, "/api/v1/jobs", token: admin, json: #"{"kind":"integration.test","tenant":"alpha","payload":{"kind":"asterisk"}}"#)
            let alphaID = try #require(alphaJob.object["id"] as? String)
            #expect(try await client.send(.get, "/api/v1/jobs/\(alphaID)", token: bravoAdmin).status == .notFound)
            #expect(try await client.send(.post, "/api/v1/jobs/\(alphaID)/cancel", token: bravoAdmin).status == .notFound)
            #expect(try await client.send(.get, "/api/v1/jobs?tenant=alpha", token: bravoAdmin).status == .notFound)
            let forAlpha = try await client.send(
                .post, "/api/v1/jobs", token: bravoAdmin, json: #"{"kind":"integration.test","tenant":"alpha","payload":{"kind":"asterisk"}}"#)
            #expect(forAlpha.status == .notFound)
            let own = try await client.send(
                .post, "/api/v1/jobs", token: bravoAdmin, json: #"{"kind":"integration.test","payload":{"kind":"asterisk"}}"#)
            #expect(own.status == .created && own.object["tenant_id"] as? String == world.tenantB.tenant.id)
            let listed = try await client.send(.get, "/api/v1/jobs", token: bravoAdmin)
            #expect((listed.object["items"] as? [[String: Any]])?.count == 1)
            #expect(try await client.send(.get, "/api/v1/workers", token: bravoAdmin).status == .forbidden)
            #expect(try await client.send(.get, "/api/v1/jobs", token: world.tenantA.apiTokenPlaintext).status == .forbidden)
        }
    }
}
