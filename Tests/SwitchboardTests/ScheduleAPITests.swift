import Foundation
import HummingbirdTesting
import Jobs
import Metrics
import Prometheus
import Server
import ServiceLifecycle
import Storage
import SwitchboardCore
import Testing

@Suite("Schedules API, breaker state in the API, job metrics")
struct ScheduleAPITests {
    @Test("admins create, change, list and delete a tenant's recurring jobs; bad input names the field", arguments: TestBackend.all)
    func crud(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let admin = world.adminToken
            let base = "/api/v1/tenants/alpha/schedules"
            let bad: [(String, String)] = [
                (#"{"name":"x","kind":"jobs.prune","cron":"61 * * * *"}"#, "cron"),
                (#"{"name":"x","kind":"jobs.prune","cron":"0 0 30 2 *"}"#, "cron"),
                (#"{"name":"x","kind":"jobs.prune"}"#, "cron"),
                (#"{"name":"x","kind":"jobs.prune","cron":"0 3 * * *","every_seconds":600}"#, "cron"),
                (#"{"name":"x","kind":"jobs.prune","every_seconds":5}"#, "every_seconds"),
                (#"{"name":"x","kind":"crm.nonsense","every_seconds":600}"#, "kind"),
                (#"{"kind":"jobs.prune","every_seconds":600}"#, "name"),
                (#"{"name":"x","kind":"jobs.prune","every_seconds":600,"payload":[1]}"#, "payload"),
                (#"{"name":"x","kind":"jobs.prune","every_seconds":600,"max_attempts":0}"#, "max_attempts"),
                (#"{"name":"x","kind":"jobs.prune","every_seconds":600,"colour":"red"}"#, "colour"),
            ]
            for (body, field) in bad {
                let response = try await client.send(.post, base, token: admin, json: body)
                #expect(response.status == .badRequest && response.errorField == field, "\(body) → \(response.status) \(response.text)")
            }
            // API tokens cannot manage schedules; another tenant's admin sees nothing.
            #expect(try await client.send(.get, base, token: world.tenantA.apiTokenPlaintext).status == .forbidden)

            let created = try await client.send(
                .post, base, token: admin,
                json: #"{"name":"nightly prune","kind":"jobs.prune","cron":"0 3 * * *","payload":{"older_than_days":14}}"#)
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(created.object["id"] as? String)
            #expect(created.object["time_zone"] as? String == "Europe/Moscow")
            let next = try #require((created.object["next_run_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "Europe/Moscow")!
            #expect(calendar.component(.hour, from: next) == 3 && calendar.component(.minute, from: next) == 0)
            #expect(next > Date() && next < Date().addingTimeInterval(86_400 + 60))
            let duplicate = try await client.send(.post, base, token: admin, json: #"{"name":"nightly prune","kind":"jobs.prune","every_seconds":600}"#)
            #expect(duplicate.status == .conflict && duplicate.errorField == "name")

            // Switching to an interval clears the cron expression; disabling hides the next run.
            let changed = try await client.send(.patch, "\(base)/\(id)", token: admin, json: #"{"every_seconds":900,"enabled":false}"#)
            #expect(changed.status == .ok)
            #expect(changed.object["cron"] == nil && changed.object["every_seconds"] as? Int == 900)
            #expect(changed.object["next_run_at"] == nil && changed.object["enabled"] as? Bool == false)
            #expect(try await client.send(.patch, "\(base)/\(id)", token: admin, json: #"{"cron":"nope"}"#).errorField == "cron")
            _ = try await client.send(.patch, "\(base)/\(id)", token: admin, json: #"{"enabled":true}"#)

            // The scheduler fires it; the list shows the last firing.
            let fired = try await JobScheduler(queue: world.services.jobs, logger: TestSupport.logger) {
                try await StandardJobs.schedules(services: world.services)
            }.fireDue()
            let listed = try await client.send(.get, base, token: admin)
            let item = try #require((listed.object["items"] as? [[String: Any]])?.first)
            #expect(fired.contains(item["last_job_id"] as? String ?? "-"))
            #expect(try await client.send(.get, "/api/v1/tenants/bravo/schedules/\(id)", token: admin).status == .notFound)
            #expect(try await client.send(.delete, "\(base)/\(id)", token: admin).status == .noContent)
            #expect(try await client.send(.get, "\(base)/\(id)", token: admin).status == .notFound)
        }
    }

    @Test("an integration shows this process's circuit breaker state")
    func breakerInAPI() async throws {
        try await TestSupport.withApp(.sqlite) { client, world in
            _ = try await world.services.stores.integrations.save(
                tenantID: world.tenantA.tenant.id, kind: .retailcrm,
                change: .init(settings: ["base_url": "http://127.0.0.1:1"], secrets: ["api_key": "k-123456789"]))
            let path = "/api/v1/tenants/alpha/integrations/retailcrm"
            #expect(try await client.send(.get, path, token: world.adminToken).object["circuit"] as? String == "closed")
            let key = CircuitBreakers.key(tenantID: world.tenantA.tenant.id, integration: "retailcrm")
            for _ in 0..<5 { await world.services.breakers.record(key, success: false) }
            #expect(try await client.send(.get, path, token: world.adminToken).object["circuit"] as? String == "open")
        }
    }

    @Test("job wait and run times are histograms by kind; attempts are counted by outcome")
    func metrics() async throws {
        let registry = TestMetrics.registry
        try await TestSupport.withDatabase(.sqlite) { database in
            let queue = JobQueue(database: database)
            var registry = JobRegistry()
            registry.register("metrics.ok") { _ in nil }
            registry.register("metrics.bad", policy: RetryPolicy(maxAttempts: 1, backoff: .fixed([]))) { _ in
                throw JobFailure.permanent("no")
            }
            let ok = try await queue.enqueue(.init(kind: "metrics.ok")).job.id
            let bad = try await queue.enqueue(.init(kind: "metrics.bad", maxAttempts: 1)).job.id
            let worker = JobWorker(
                queue: queue, registry: registry, configuration: .init(concurrency: 2, pollInterval: .milliseconds(20)),
                logger: TestSupport.logger)
            let group = ServiceGroup(services: [worker], logger: TestSupport.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let deadline = ContinuousClock.now + .seconds(10)
                while ContinuousClock.now < deadline {
                    let states = [try await queue.find(id: ok)?.state, try await queue.find(id: bad)?.state]
                    if states == [.succeeded, .dead] { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        #expect(text.contains(#"switchboard_job_wait_seconds_bucket{kind="metrics.ok""#), "\(text.prefix(2000))")
        #expect(text.contains(#"switchboard_job_run_seconds_count{kind="metrics.ok"} 1"#))
        #expect(text.contains(#"switchboard_job_attempts_total{kind="metrics.ok",outcome="succeeded"} 1"#))
        #expect(text.contains(#"switchboard_job_attempts_total{kind="metrics.bad",outcome="dead"} 1"#))
    }
}

/// swift-metrics has one global backend per process: the tests' is a Prometheus registry, set up once.
enum TestMetrics {
    static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()
}
