import Asterisk
import Foundation
import NIOCore
import NIOPosix
import SwitchboardCore

/// An emulated Asterisk for tests and `switchboard demo` — never a real PBX. It speaks AMI on
/// loopback like Asterisk 22 does: the banner, `Login` (refusing a wrong secret and closing),
/// `Ping`, `Originate` (queued, then the calls' events and `OriginateResponse`), `Redirect`,
/// `PJSIPShowEndpoints` as an event list, `Logoff`; other actions get Asterisk's error.
/// ``broadcast(_:)`` pushes events (e.g. recorded captures) to every logged-in session.
public actor PBXSimulator {
    public let username: String
    public let secret: String
    public private(set) var endpoints: [String]
    /// Every action received, in order (tests assert on them).
    public private(set) var actions: [AMIMessage] = []
    /// Events to play after an `Originate` is queued: given the action, returns the call's events.
    private var originateScenario: (@Sendable (AMIMessage) -> [AMIMessage])?
    private var sessions: [Int: (writer: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: any Channel)] = [:]
    private var nextSession = 0

    public init(username: String = "switchboard", secret: String = "sandbox-ami-secret", endpoints: [String] = ["100", "101", "102"]) {
        self.username = username
        self.secret = secret
        self.endpoints = endpoints
    }

    public func onOriginate(_ scenario: @escaping @Sendable (AMIMessage) -> [AMIMessage]) { originateScenario = scenario }

    /// Sessions that are logged in now.
    public var connectedSessions: Int { sessions.count }

    /// Sends `events` to every logged-in session.
    public func broadcast(_ events: [AMIMessage]) async {
        let bytes = events.map { $0.encoded() }.joined()
        for session in sessions.values { try? await session.writer.write(ByteBuffer(string: bytes)) }
    }

    /// Closes every session (a PBX restart, a network cut).
    public func dropConnections() async {
        let closing = sessions.values.map(\.channel)
        sessions.removeAll()
        for channel in closing {
            try? await channel.close()
        }
    }

    /// Runs the simulator on `127.0.0.1:port` (0: a free port) while `body` runs; `body` gets the port.
    public static func run<R: Sendable>(_ simulator: PBXSimulator, port: Int = 0, _ body: @Sendable (Int) async throws -> R) async throws -> R {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let bound = server.channel.localAddress?.port ?? port
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                try await withThrowingDiscardingTaskGroup { connections in
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            connections.addTask { await simulator.serve(connection) }
                        }
                    }
                }
                return nil
            }
            // Closed on success and on failure alike: an accept loop left open would keep the group (and the
            // process) waiting forever, e.g. when the demo's own port is taken.
            func stop() async {
                await simulator.dropConnections()
                group.cancelAll()
                try? await server.channel.close()
            }
            do {
                let result = try await body(bound)
                await stop()
                return result
            } catch {
                await stop()
                throw error
            }
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        try? await connection.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "Asterisk Call Manager/11.0.0\r\n"))
            var decoder = AMIFrameDecoder(expectBanner: false)
            var session: Int?
            for try await buffer in inbound {
                for case .message(let action) in decoder.feed(buffer.readableBytesView) {
                    let (replies, keepOpen, loggedIn) = self.answer(action, loggedIn: session != nil)
                    if loggedIn, session == nil { session = self.register(outbound, channel: connection.channel) }
                    try await outbound.write(ByteBuffer(string: replies.map { $0.encoded() }.joined()))
                    if !keepOpen {
                        if let session { self.unregister(session) }
                        return
                    }
                    if action["Action"]?.lowercased() == "originate", let scenario = originateScenario {
                        let events = scenario(action)
                        Task { await self.broadcast(events) }
                    }
                }
            }
            if let session { self.unregister(session) }
        }
    }

    private func register(_ writer: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: any Channel) -> Int {
        nextSession += 1
        sessions[nextSession] = (writer, channel)
        return nextSession
    }

    private func unregister(_ id: Int) { sessions[id] = nil }

    /// The replies to one action, whether the connection stays open, and whether the session is logged in.
    private func answer(_ action: AMIMessage, loggedIn: Bool) -> ([AMIMessage], Bool, Bool) {
        actions.append(action)
        var reply: [(String, String)] = []
        if let id = action.actionID { reply.append(("ActionID", id)) }
        func response(_ status: String, _ message: String, _ extra: [(String, String)] = []) -> AMIMessage {
            AMIMessage([("Response", status)] + reply + [("Message", message)] + extra)
        }
        let name = action["Action"]?.lowercased() ?? ""
        if name == "login" {
            guard action["Username"] == username, action["Secret"] == secret else {
                return ([response("Error", "Authentication failed")], false, false)
            }
            let booted = AMIMessage([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", "0"), ("LastReload", "0"), ("Status", "Fully Booted")])
            return ([response("Success", "Authentication accepted"), booted], true, true)
        }
        guard loggedIn else { return ([response("Error", "Permission denied")], true, false) }
        switch name {
        case "ping":
            return ([AMIMessage([("Response", "Success")] + reply + [("Ping", "Pong"), ("Timestamp", String(format: "%.6f", Date().timeIntervalSince1970))])], true, true)
        case "originate":
            guard action["Channel"] != nil else { return ([response("Error", "Channel not specified")], true, true) }
            return ([response("Success", "Originate successfully queued")], true, true)
        case "redirect":
            guard action["Channel"] != nil, action["Exten"] != nil else { return ([response("Error", "Channel not specified")], true, true) }
            return ([response("Success", "Redirect successful")], true, true)
        case "pjsipshowendpoints":
            var messages = [response("Success", "A listing of Endpoints follows, presented as EndpointList events", [("EventList", "start")])]
            for endpoint in endpoints {
                messages.append(AMIMessage([("Event", "EndpointList")] + reply + [
                    ("ObjectType", "endpoint"), ("ObjectName", endpoint), ("Transport", "transport-udp"), ("Aor", endpoint),
                    ("DeviceState", "Not in use"), ("ActiveChannels", ""),
                ]))
            }
            messages.append(AMIMessage([("Event", "EndpointListComplete")] + reply + [("EventList", "Complete"), ("ListItems", String(endpoints.count))]))
            return (messages, true, true)
        case "logoff":
            return ([AMIMessage([("Response", "Goodbye")] + reply + [("Message", "Thanks for all the fish.")])], false, true)
        default:
            return ([response("Error", "Invalid/unknown command")], true, true)
        }
    }
}
