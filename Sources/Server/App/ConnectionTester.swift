import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import SwitchboardCore

/// The outcome of "test connection": each check with what it found, in plain words.
public struct ConnectionTestResult: Sendable, Encodable {
    public struct Check: Sendable, Encodable {
        public var name: String
        public var ok: Bool
        public var detail: String
    }

    public var ok: Bool { checks.allSatisfy(\.ok) }
    public var checks: [Check]

    public init(checks: [Check]) { self.checks = checks }

    enum CodingKeys: String, CodingKey { case ok, checks }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ok, forKey: .ok)
        try container.encode(checks, forKey: .checks)
    }
}

/// Tests that an integration can reach its system. Each connector registers a deeper test (real API
/// authentication) for its kind; ``ReachabilityTester`` is the baseline every kind gets.
public protocol ConnectionTester: Sendable {
    func test(_ integration: Integration) async -> ConnectionTestResult
}

/// Baseline test: required settings and secrets are present, and the endpoint answers — an HTTP
/// response from a CRM's base URL, or the `Asterisk Call Manager` banner from an AMI port.
public struct ReachabilityTester: ConnectionTester {
    let httpClient: HTTPClient
    let timeout: TimeAmount

    public init(httpClient: HTTPClient = .shared, timeout: TimeAmount = .seconds(5)) {
        self.httpClient = httpClient
        self.timeout = timeout
    }

    public func test(_ integration: Integration) async -> ConnectionTestResult {
        let missing = integration.missingFields
        var checks = [
            ConnectionTestResult.Check(
                name: "configuration", ok: missing.isEmpty,
                detail: missing.isEmpty ? "all required settings present" : "missing: \(missing.joined(separator: ", "))")
        ]
        guard missing.isEmpty else { return .init(checks: checks) }
        if let setting = integration.kind.baseURLSetting, let url = integration.settings[setting]?.stringValue {
            checks.append(await probeHTTP(url))
        } else if integration.kind == .asterisk, let host = integration.settings["host"]?.stringValue {
            let port: Int? =
                switch integration.settings["port"] {
                case .number(let value): Int(value)
                case .string(let value): Int(value)
                default: nil
                }
            checks.append(await probeAMI(host: host, port: port ?? 5038))
        }
        return .init(checks: checks)
    }

    private func probeHTTP(_ url: String) async -> ConnectionTestResult.Check {
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            return .init(name: "reachability", ok: false, detail: "'\(url)' is not an http(s) URL")
        }
        let started = ContinuousClock.now
        do {
            let response = try await httpClient.execute(HTTPClientRequest(url: url), timeout: timeout)
            let elapsed = ContinuousClock.now - started
            return .init(
                name: "reachability", ok: response.status.code < 500,
                detail: "HTTP \(response.status.code) in \(elapsed.formatted(.units(allowed: [.milliseconds])))")
        } catch {
            return .init(name: "reachability", ok: false, detail: "no answer from \(parsed.host ?? url): \(Self.plain(error))")
        }
    }

    /// Network errors in the words a person setting up an integration needs.
    static func plain(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("Connection refused") { return "connection refused (is the service running and the port right?)" }
        if text.localizedCaseInsensitiveContains("timeout") || text.localizedCaseInsensitiveContains("timed out") {
            return "no answer in time (firewall or wrong address?)"
        }
        if text.contains("NXDOMAIN") || text.localizedCaseInsensitiveContains("resolve") || text.contains("No address") {
            return "host name not found"
        }
        if text.localizedCaseInsensitiveContains("certificate") || text.contains("TLS") || text.contains("SSL") {
            return "TLS failed: \(text)"
        }
        return text
    }

    private func probeAMI(host: String, port: Int) async -> ConnectionTestResult.Check {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let banner = try await withThrowingTaskGroup(of: String.self) { group in
                group.addTask {
                    try await channel.executeThenClose { inbound, _ in
                        var text = ""
                        for try await chunk in inbound {
                            text += String(buffer: chunk)
                            if text.contains("\n") || text.count > 200 { break }
                        }
                        return text
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(3))
                    throw SwitchboardError(.unavailable, code: "timeout", message: "no banner within 3 s")
                }
                defer { group.cancelAll() }
                return try await group.next() ?? ""
            }
            let line = banner.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            let isAMI = line.hasPrefix("Asterisk Call Manager")
            return .init(
                name: "reachability", ok: isAMI,
                detail: isAMI ? "\(host):\(port) answered '\(line)'" : "\(host):\(port) is not an AMI port (got '\(line)')")
        } catch {
            return .init(name: "reachability", ok: false, detail: "cannot connect to \(host):\(port): \(Self.plain(error))")
        }
    }
}
