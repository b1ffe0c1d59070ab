import AsyncHTTPClient
import Foundation
import NIOCore
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

/// Baseline test: required settings and secrets are present, and the CRM's base URL answers HTTP.
public struct ReachabilityTester: ConnectionTester {
    let httpClient: HTTPClient
    let timeout: TimeAmount

    public init(httpClient: HTTPClient = .shared, timeout: TimeAmount = .seconds(5)) {
        self.httpClient = httpClient
        self.timeout = timeout
    }

    public func test(_ integration: Integration) async -> ConnectionTestResult {
        var checks = [configurationCheck(integration)]
        guard checks[0].ok else { return .init(checks: checks) }
        if let setting = integration.kind.baseURLSetting, let url = integration.settings[setting]?.stringValue {
            checks.append(await probeHTTP(url))
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
    static func plain(_ error: any Error) -> String { plain(String(describing: error)) }

    /// The same for an error already turned into text; the text itself when nothing better is known.
    static func plain(_ text: String) -> String {
        if text.localizedCaseInsensitiveContains("Connection refused") { return "connection refused (is the service running and the port right?)" }
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
}
