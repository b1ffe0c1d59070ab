import Foundation
import Hummingbird
import Jobs
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Server
import ServiceLifecycle
import Storage
import SwitchboardCore
import Synchronization
import Testing

/// A running app on a fresh database with a super admin and two tenants, driven through the real router.
struct TestWorld: Sendable {
    let services: AppServices
    let adminToken: String
    let adminPassword: String
    let tenantA: TenantProvisioning.Created
    let tenantB: TenantProvisioning.Created

    static let adminEmail = "root@example.com"
}

/// Log lines captured from the app, to assert on what was (and was not) logged.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    var logger: Logger {
        let sink = JSONLogHandler.Sink { [self] line in lines.withLock { $0.append(line) } }
        var logger = Logger(label: "test-app") { label in JSONLogHandler(label: label, level: .trace, sink: sink) }
        logger.logLevel = .trace
        return logger
    }
}

extension TestSupport {
    static func withApp(
        _ backend: TestBackend, settings: ServerSettings = ServerSettings(bcryptCost: 4),
        logs: LogCapture? = nil,
        _ body: @Sendable (any TestClientProtocol, TestWorld) async throws -> Void
    ) async throws {
        let logger = logs?.logger ?? TestSupport.logger
        try await withDatabase(backend, logger: logger) { database in
            var services = try await AppServices.make(
                database: database, secrets: secrets, settings: settings,
                stats: RequestStats(registry: PrometheusCollectorRegistry()), logger: logger)
            // Unreachable test endpoints fail within a second instead of the production 5 s.
            services.defaultTester = ReachabilityTester(timeout: .seconds(1))
            let password = "correct horse battery staple"
            let admin = try await services.stores.users.create(
                email: TestWorld.adminEmail, role: .superAdmin, tenantID: nil,
                passwordHash: try await services.passwords.hash(password))
            let token = try await services.adminTokens.issue(for: admin).token
            let tenantA = try await TenantProvisioning.create(
                database: database, secrets: secrets, slug: "alpha", name: "Альфа")
            let tenantB = try await TenantProvisioning.create(
                database: database, secrets: secrets, slug: "bravo", name: "Bravo")
            let world = TestWorld(
                services: services, adminToken: token, adminPassword: password, tenantA: tenantA, tenantB: tenantB)
            let app = Application(router: buildRouter(services: services), logger: logger)
            try await app.test(.router) { client in try await body(client, world) }
        }
    }
}

extension TestSupport {
    /// Runs an in-process worker until `done` (at most 30 s).
    static func runWorkers(_ world: TestWorld, until done: @Sendable () async throws -> Bool) async throws {
        let worker = JobWorker(
            queue: world.services.jobs, registry: StandardJobs.registry(services: world.services),
            configuration: .init(concurrency: 4, pollInterval: .milliseconds(50)), logger: TestSupport.logger)
        let group = ServiceGroup(services: [worker], logger: TestSupport.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, try await !done() { try await Task.sleep(for: .milliseconds(50)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try await done(), "workers did not finish in time")
    }
}

extension TestClientProtocol {
    /// Sends a request with an optional bearer token and JSON body.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(
            uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The decoded JSON object body.
    var object: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }

    /// `error.field` and `error.code` of an error body.
    var errorField: String? { (object["error"] as? [String: Any])?["field"] as? String }
    var errorCode: String? { (object["error"] as? [String: Any])?["code"] as? String }
}
