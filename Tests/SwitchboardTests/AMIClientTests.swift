import Asterisk
import Foundation
import Sandbox
import Synchronization
import Testing

@Suite("AMI client against the PBX simulator on loopback")
struct AMIClientTests {
    static func configuration(port: Int, secret: String = "sandbox-ami-secret") -> AMIConfiguration {
        AMIConfiguration(
            host: "127.0.0.1", port: port, username: "switchboard", secret: secret, actionTimeout: .seconds(10), pingInterval: .milliseconds(500),
            reconnectDelay: .milliseconds(50) ... .milliseconds(200))
    }

    /// Waits for `condition`, up to 20 seconds (the whole suite runs in parallel on two cores).
    static func eventually(within limit: Duration = .seconds(20), _ condition: @Sendable () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    @Test("logs in, keeps alive, runs actions and lists, receives events, and reconnects after a drop")
    func session() async throws {
        let simulator = PBXSimulator()
        try await PBXSimulator.run(simulator) { port in
            let client = AMIClient(configuration: Self.configuration(port: port), logger: TestSupport.logger)
            let events = Locked<[AMIMessage]>([])
            let states = Locked<[String]>([])
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    await client.run(onEvent: { event in events.withLock { $0.append(event) } }, onState: { state in states.withLock { $0.append(state.name) } })
                }
                #expect(try await Self.eventually { client.state == .connected })
                // Generous waits here: with the whole suite on two cores the in-process PBX can be starved for seconds.
                let endpoints = try await client.sendList(AMIMessage([("Action", "PJSIPShowEndpoints")]), timeout: .seconds(40))
                #expect(endpoints.map { $0["ObjectName"] } == ["100", "101", "102"])
                let originate = try await client.send(AMIMessage([("Action", "Originate"), ("Channel", "PJSIP/101"), ("Exten", "+375296254070"), ("Context", "from-internal"), ("Priority", "1"), ("Async", "true")]))
                #expect(originate.response == "Success" && originate["Message"] == "Originate successfully queued")
                let refused = try await client.send(AMIMessage([("Action", "Teleport")]))
                #expect(refused.response == "Error")

                // A recorded call pushed by the "PBX" arrives in order.
                let capture = try Fixtures.amiCapture("missed-busy")
                await simulator.broadcast(capture)
                #expect(try await Self.eventually { events.withLock { $0.filter { $0.event != "FullyBooted" }.count } == capture.filter { $0.event != nil }.count })
                // (the capture's own Originate response has no one waiting for it and is dropped)
                #expect(events.withLock { $0.filter { $0.event != "FullyBooted" }.map(\.event) } == capture.compactMap(\.event))
                // Keep-alive pings went out.
                #expect(try await Self.eventually { await simulator.actions.contains { $0["Action"] == "Ping" } })

                // The PBX drops the connection: the client comes back by itself.
                await simulator.dropConnections()
                #expect(try await Self.eventually(within: .seconds(60)) { states.withLock { $0.filter { $0 == "connected" }.count } >= 2 })
                #expect(try await Self.eventually { await simulator.connectedSessions == 1 })
                #expect(try await client.send(AMIMessage([("Action", "Ping")])).response == "Success")
                group.cancelAll()
            }
            let logins = await simulator.actions.filter { $0["Action"] == "Login" }
            #expect(logins.count >= 2 && logins.allSatisfy { $0["Secret"] == "sandbox-ami-secret" })
        }
    }

    @Test("a wrong secret is reported as a failed login, and a closed port as disconnected")
    func failures() async throws {
        let simulator = PBXSimulator()
        try await PBXSimulator.run(simulator) { port in
            let client = AMIClient(configuration: Self.configuration(port: port, secret: "wrong"), logger: TestSupport.logger)
            let task = Task { await client.run(onEvent: { _ in }) }
            let refused = try await Self.eventually { client.state.name == "login_failed" }
            #expect(refused)
            task.cancel()
            await task.value
            let ping = AMIMessage([("Action", "Ping")])
            do {
                _ = try await client.send(ping)
                Issue.record("an action went through without a connection")
            } catch {
                #expect(error is AMIError)
            }
        }
        let closed = AMIClient(configuration: Self.configuration(port: 1), logger: TestSupport.logger)
        let task = Task { await closed.run(onEvent: { _ in }) }
        let down = try await Self.eventually { closed.state.name == "disconnected" }
        #expect(down)
        task.cancel()
        await task.value
    }
}

/// A value shared with escaping closures in tests.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
