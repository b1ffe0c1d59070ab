import Logging
import NIOCore
import NIOPosix
import SwitchboardCore
import Synchronization

/// Where and how to reach a PBX's Asterisk Manager Interface.
public struct AMIConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String
    public var secret: String
    public var connectTimeout: Duration
    /// How long an action may wait for its response.
    public var actionTimeout: Duration
    /// A `Ping` this often keeps NAT and firewalls from dropping an idle connection, and finds dead ones.
    public var pingInterval: Duration
    /// Reconnect delays grow from the lower to the upper bound (with jitter) while the PBX stays away.
    public var reconnectDelay: ClosedRange<Duration>

    public init(
        host: String, port: Int = 5038, username: String, secret: String, connectTimeout: Duration = .seconds(5),
        actionTimeout: Duration = .seconds(10), pingInterval: Duration = .seconds(20),
        reconnectDelay: ClosedRange<Duration> = .seconds(1) ... .seconds(30)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.connectTimeout = connectTimeout
        self.actionTimeout = actionTimeout
        self.pingInterval = pingInterval
        self.reconnectDelay = reconnectDelay
    }
}

/// The connection as the admin sees it.
public enum AMIConnectionState: Sendable, Equatable {
    case connecting
    case connected
    /// Asterisk refused the username or secret; retried at the longest delay.
    case loginFailed(String)
    case disconnected(String)

    public var name: String {
        switch self {
        case .connecting: "connecting"
        case .connected: "connected"
        case .loginFailed: "login_failed"
        case .disconnected: "disconnected"
        }
    }
}

/// A failed AMI action or connection.
public struct AMIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A client that keeps one AMI connection up: connects, logs in, hands every event to the caller,
/// sends `Ping` as keep-alive, and reconnects with growing delays when the connection or login fails.
/// Actions are matched to their responses by `ActionID`; list actions (`PJSIPShowEndpoints`) collect
/// their events until the list completes.
public final class AMIClient: Sendable {
    public let configuration: AMIConfiguration
    let logger: Logger
    private let link = AMILink()
    private let stateBox = Mutex<AMIConnectionState>(.connecting)
    private let counter = Atomic<Int>(0)

    public init(configuration: AMIConfiguration, logger: Logger) {
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "pbx"] = "\(configuration.host):\(configuration.port)"
        self.logger = logger
    }

    public var state: AMIConnectionState { stateBox.withLock { $0 } }

    /// Runs until the task is cancelled. `onEvent` gets every event (not responses) in arrival order, from
    /// its own task: a slow consumer never stops the connection from reading (and so from noticing a
    /// dead PBX or answering actions).
    public func run(onEvent: @escaping @Sendable (AMIMessage) async -> Void, onState: @escaping @Sendable (AMIConnectionState) async -> Void = { _ in }) async {
        let (events, sink) = AsyncStream.makeStream(of: AMIMessage.self, bufferingPolicy: .bufferingOldest(200_000))
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in events { await onEvent(event) }
            }
            await connectLoop(onEvent: { event in
                if case .dropped = sink.yield(event) {
                    self.logger.error("AMI events are arriving faster than they can be stored; one was dropped")
                }
            }, onState: onState)
            sink.finish()
        }
    }

    private func connectLoop(onEvent: @escaping @Sendable (AMIMessage) async -> Void, onState: @escaping @Sendable (AMIConnectionState) async -> Void) async {
        var failures = 0
        while !Task.isCancelled {
            setState(.connecting)
            await onState(.connecting)
            var loginRefused = false
            let reachedLogin = Atomic<Bool>(false)
            defer { if reachedLogin.load(ordering: .relaxed) { failures = 0 } }
            do {
                try await connectOnce(onEvent: onEvent) {
                    reachedLogin.store(true, ordering: .relaxed)
                    self.setState(.connected)
                    await onState(.connected)
                }
                setState(.disconnected("the PBX closed the connection"))
            } catch let error as AMIError where error.message.hasPrefix("login failed") {
                loginRefused = true
                setState(.loginFailed(error.message))
                logger.error("AMI login failed; check the username and secret", metadata: ["error": "\(error.message)"])
            } catch {
                setState(.disconnected("\(error)"))
                if !Task.isCancelled { logger.warning("AMI connection lost; reconnecting", metadata: ["error": "\(error)"]) }
            }
            await link.detach(failing: AMIError("the AMI connection closed"))
            await onState(state)
            guard !Task.isCancelled else { break }
            failures += 1
            try? await Task.sleep(for: delay(after: failures, longest: loginRefused))
        }
    }

    private func setState(_ state: AMIConnectionState) { stateBox.withLock { $0 = state } }

    /// Full jitter between the lower bound and an exponentially growing ceiling.
    func delay(after failures: Int, longest: Bool) -> Duration {
        let (low, high) = (configuration.reconnectDelay.lowerBound.inSeconds, configuration.reconnectDelay.upperBound.inSeconds)
        let ceiling = longest ? high : min(high, low * Double(1 << min(failures, 16)))
        return .milliseconds(Int64(Double.random(in: low...max(low, ceiling)) * 1000))
    }

    private func connectOnce(onEvent: @escaping @Sendable (AMIMessage) async -> Void, loggedIn: @escaping @Sendable () async -> Void) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(Int64(configuration.connectTimeout.inSeconds * 1000)))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .connect(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        // Iterating the inbound stream does not end on cancellation by itself: closing the channel does.
        try await withTaskCancellationHandler {
            try await session(channel, onEvent: onEvent, loggedIn: loggedIn)
        } onCancel: {
            channel.channel.close(promise: nil)
        }
    }

    private func session(
        _ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, onEvent: @escaping @Sendable (AMIMessage) async -> Void,
        loggedIn: @escaping @Sendable () async -> Void
    ) async throws {
        try await channel.executeThenClose { inbound, outbound in
            await link.attach(outbound)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    var decoder = AMIFrameDecoder()
                    for try await buffer in inbound {
                        for output in decoder.feed(buffer.readableBytesView) {
                            guard case .message(let message) = output else { continue }
                            // Responses nobody waits for (a timed-out action) are dropped; events go on.
                            if await !self.link.deliver(message), message.event != nil { await onEvent(message) }
                        }
                    }
                    // Fail waiting actions now: they must not hold up tearing the connection down.
                    await self.link.detach(failing: AMIError("the PBX closed the connection"))
                    throw AMIError("the PBX closed the connection")
                }
                let login = try await self.send(
                    AMIMessage([("Action", "Login"), ("Username", configuration.username), ("Secret", configuration.secret), ("Events", "on")]))
                guard login.response?.lowercased() == "success" else {
                    throw AMIError("login failed: \(login["Message"] ?? "refused")")
                }
                await loggedIn()
                group.addTask {
                    // A PBX that stops answering pings is gone even if no FIN ever arrived (NAT, power loss).
                    while !Task.isCancelled {
                        try await Task.sleep(for: self.configuration.pingInterval)
                        _ = try await self.send(AMIMessage([("Action", "Ping")]))
                    }
                }
                do {
                    try await group.next()
                } catch {
                    // Close first: a reader waiting for bytes must not hold up the reconnect.
                    try? await channel.channel.close()
                    throw error
                }
                group.cancelAll()
            }
        }
    }

    /// Sends an action and waits for its response (an `ActionID` is added when missing).
    public func send(_ action: AMIMessage, timeout: Duration? = nil) async throws -> AMIMessage {
        try await exchange(action, list: false, timeout: timeout).first ?? AMIMessage()
    }

    /// Sends a list action (`PJSIPShowEndpoints`, `SIPpeers`…) and returns its events, without the closing one.
    public func sendList(_ action: AMIMessage, timeout: Duration? = nil) async throws -> [AMIMessage] {
        try await exchange(action, list: true, timeout: timeout)
    }

    private func exchange(_ action: AMIMessage, list: Bool, timeout: Duration?) async throws -> [AMIMessage] {
        var action = action
        let id: String
        if let existing = action.actionID {
            id = existing
        } else {
            id = "sb-\(counter.add(1, ordering: .relaxed).newValue)-\(Identifiers.newID().prefix(8))"
            action.headers.append(("ActionID", id))
        }
        let limit = timeout ?? configuration.actionTimeout
        let (outgoing, name) = (action, action["Action"] ?? "the action")
        return try await withThrowingTaskGroup(of: [AMIMessage].self) { group in
            group.addTask {
                // A waiting action ends when its caller is cancelled, not only when an answer comes.
                try await withTaskCancellationHandler {
                    try await self.link.request(outgoing, id: id, list: list)
                } onCancel: {
                    Task { await self.link.fail(id, AMIError("cancelled")) }
                }
            }
            group.addTask {
                try await Task.sleep(for: limit)
                await self.link.fail(id, AMIError("no answer to \(name) within \(limit)"))
                throw AMIError("no answer to \(name) within \(limit)")
            }
            defer { group.cancelAll() }
            return try await group.next() ?? []
        }
    }
}

/// The current connection's writer and the actions waiting for answers.
actor AMILink {
    private struct Pending {
        var continuation: CheckedContinuation<[AMIMessage], any Error>
        var list: Bool
        var collected: [AMIMessage]
    }

    private var outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>?
    private var pending: [String: Pending] = [:]

    func attach(_ writer: NIOAsyncChannelOutboundWriter<ByteBuffer>) { outbound = writer }

    func detach(failing error: AMIError) {
        outbound = nil
        let waiting = pending
        pending.removeAll()
        for entry in waiting.values { entry.continuation.resume(throwing: error) }
    }

    func request(_ action: AMIMessage, id: String, list: Bool) async throws -> [AMIMessage] {
        guard let outbound else { throw AMIError("not connected to the PBX") }
        return try await withCheckedThrowingContinuation { continuation in
            pending[id] = Pending(continuation: continuation, list: list, collected: [])
            Task {
                do {
                    try await outbound.write(ByteBuffer(string: action.encoded()))
                } catch {
                    self.fail(id, AMIError("could not send: \(error)"))
                }
            }
        }
    }

    func fail(_ id: String, _ error: AMIError) {
        pending.removeValue(forKey: id)?.continuation.resume(throwing: error)
    }

    /// Hands a response (or a list's event) to the action waiting for it; false when nobody waits.
    func deliver(_ message: AMIMessage) -> Bool {
        guard let id = message.actionID, var entry = pending[id] else { return false }
        // Events such as OriginateResponse carry a `Response` header too; only event-less messages are responses.
        if message.event == nil, message.response != nil {
            let success = message.response?.lowercased() == "success"
            if entry.list && success && message["EventList"]?.lowercased() == "start" { return true }
            if entry.list && success && message["EventList"] == nil {
                // Some list actions answer "Success" and then send events without announcing the list.
                return true
            }
            pending[id] = nil
            if entry.list && !success {
                entry.continuation.resume(throwing: AMIError(message["Message"] ?? "the PBX refused the action"))
            } else {
                entry.continuation.resume(returning: [message])
            }
            return true
        }
        guard entry.list else { return false }
        if message["EventList"]?.lowercased() == "complete" || (message.event?.hasSuffix("Complete") ?? false) {
            pending[id] = nil
            entry.continuation.resume(returning: entry.collected)
        } else {
            entry.collected.append(message)
            pending[id] = entry
        }
        return true
    }
}
