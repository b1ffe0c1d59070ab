import Foundation
import Jobs
import NIOCore
import NIOPosix
import Server
import Storage
import SwitchboardCore
import Synchronization
import Testing

@Suite("A worker killed with SIGKILL mid-job")
struct WorkerCrashTests {
    @Test("the job runs again on another worker after the lease expires, and its result is recorded once", arguments: TestBackend.all)
    func killNine(backend: TestBackend) async throws {
        let dataDir = TestSupport.temporaryDirectory()
        let location = try await TestSupport.location(backend)
        var flags = ["--data-dir", dataDir, "--log-format", "text", "--workers", "1", "--lease-seconds", "2"]
        if case .postgres(let url) = location {
            flags += ["--database-url", "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)?sslmode=disable"]
        } else if case .sqlite(let path) = location {
            flags[1] = URL(fileURLWithPath: path).deletingLastPathComponent().path
        }
        let secrets = try SecretBox.load(base64Key: nil, previous: [], dataDir: flags[1], logger: TestSupport.logger)

        // A "PBX" that accepts connections and never answers: each connection is one side effect.
        let connections = Mutex(0)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                connections.withLock { $0 += 1 }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { listener.close(promise: nil) }
        let port = listener.localAddress?.port ?? 0

        let jobID = try await Database.withDatabase(location, logger: TestSupport.logger) { database in
            try await Migrator().migrate(database, logger: TestSupport.logger)
            let stores = Stores(database, secrets: secrets)
            let (tenant, _) = try await stores.tenants.create(slug: "crash", name: "Crash")
            _ = try await stores.integrations.save(
                tenantID: tenant.id, kind: .asterisk,
                change: .init(settings: ["host": "127.0.0.1", "port": .number(Double(port))], secrets: ["username": "u", "secret": "s"]))
            return try await JobQueue(database: database).enqueue(
                .init(kind: StandardJobs.integrationTest, tenantID: tenant.id, payload: ["kind": "asterisk"], maxAttempts: 3)).job.id
        }

        let log = dataDir + "/workers.log"
        let first = try CommandRunner.start(["worker"] + flags, logPath: log)
        let deadline = ContinuousClock.now + .seconds(20)
        while connections.withLock({ $0 }) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(connections.withLock { $0 } == 1, "the first worker never started the job")
        await CommandRunner.stop(first, signal: SIGKILL)  // mid-job: it is waiting for the AMI banner

        let second = try CommandRunner.start(["worker"] + flags, logPath: log)
        // Wait for the job, then stop the second worker whatever happened (no `await` in a defer).
        let finished: Result<Job?, any Error>
        do {
            finished = .success(
                try await Database.withDatabase(location, logger: TestSupport.logger) { database in
                    let queue = JobQueue(database: database)
                    let until = ContinuousClock.now + .seconds(40)
                    while ContinuousClock.now < until, try await queue.find(id: jobID)?.state != .succeeded {
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return try await queue.find(id: jobID)
                })
        } catch {
            finished = .failure(error)
        }
        await CommandRunner.stop(second, signal: SIGTERM)
        let job = try finished.get()
        #expect(job?.state == .succeeded, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(job?.attempt == 2)
        #expect(connections.withLock { $0 } == 2)
        // The killed run wrote nothing; the second wrote its result and exactly one log entry.
        let logs = try await Database.withDatabase(location, logger: TestSupport.logger) { database in
            try await IntegrationLogRepository(database).list(tenantID: job?.tenantID ?? "")
        }
        #expect(logs.count == 1)
    }
}
