import Asterisk
import Foundation
import Logging
import RetailCRM
import SwitchboardCore
import Telephony

/// RetailCRM's "test connection": the account answers, the API key is accepted, and it may call the
/// methods Switchboard uses (`/api/credentials` lists them).
struct RetailCRMTester: ConnectionTester {

    /// The methods the telephony bridge calls, as `/api/credentials` names them.
    static let needed = [
        "/api/telephony/call/event", "/api/telephony/calls/upload", "/api/integration-modules/{code}/edit", "/api/users",
    ]

    func test(_ integration: Integration) async -> ConnectionTestResult {
        var checks = [configurationCheck(integration)]
        guard checks[0].ok else { return .init(checks: checks) }
        // Not through `access`: the test's summary is the log entry; a second one per probe would be noise.
        let client = RetailCRMClient(
            baseURL: integration.settings["base_url"]?.stringValue ?? "", apiKey: integration.secrets["api_key"] ?? "", timeout: .seconds(5))
        let started = ContinuousClock.now
        do {
            let granted = try await client.credentials()
            let elapsed = (ContinuousClock.now - started).formatted(.units(allowed: [.milliseconds]))
            checks.append(.init(name: "api_key", ok: true, detail: "RetailCRM accepted the key in \(elapsed)"))
            let missing = Self.needed.filter { !granted.contains($0) }
            checks.append(
                .init(
                    name: "permissions", ok: missing.isEmpty,
                    detail: missing.isEmpty ? "the key may call every method the telephony bridge uses"
                        : "give the key access to: \(missing.joined(separator: ", "))"))
        } catch let error as RetailCRMError {
            let detail =
                switch error.status {
                case 0: "no answer from \(client.baseURL): \(ReachabilityTester.plain(error))"
                case 401, 403: "RetailCRM refused the API key: \(error.message)"
                case 404: "\(client.baseURL) does not look like a RetailCRM account (HTTP 404)"
                default: "RetailCRM answered HTTP \(error.status): \(error.message)"
                }
            checks.append(.init(name: "api_key", ok: false, detail: detail))
        } catch {
            checks.append(.init(name: "api_key", ok: false, detail: "\(error)"))
        }
        return .init(checks: checks)
    }
}

/// Asterisk's "test connection": log in to AMI with the stored account and list the PJSIP endpoints.
struct AsteriskTester: ConnectionTester {
    let logger: Logger

    func test(_ integration: Integration) async -> ConnectionTestResult {
        var checks = [configurationCheck(integration)]
        guard checks[0].ok else { return .init(checks: checks) }
        let settings: PBXSettings
        do {
            settings = try PBXSettings(integration)
        } catch {
            checks.append(.init(name: "settings", ok: false, detail: (error as? SwitchboardError)?.message ?? "\(error)"))
            return .init(checks: checks)
        }
        let target = "\(settings.ami.host):\(settings.ami.port)"
        switch await AMIProbe.run(settings.ami, logger: logger) {
        case .success(let found):
            checks.append(.init(name: "login", ok: true, detail: "logged in to \(target) as \(settings.ami.username)"))
            checks.append(
                .init(
                    name: "extensions", ok: true,
                    detail: found.endpoints.isEmpty
                        ? "the PBX listed no PJSIP endpoints (extensions will be taken from calls)"
                        : "\(found.endpoints.count) PJSIP endpoints: \(found.endpoints.prefix(20).joined(separator: ", "))"))
        case .failure(let error) where error.message.hasPrefix("login failed"):
            checks.append(.init(name: "login", ok: false, detail: "\(target) refused the AMI username or secret (\(error.message))"))
        case .failure(let error):
            checks.append(.init(name: "login", ok: false, detail: "cannot reach AMI at \(target): \(ReachabilityTester.plain(error))"))
        }
        return .init(checks: checks)
    }
}

/// The first check of every test: nothing required is missing.
func configurationCheck(_ integration: Integration) -> ConnectionTestResult.Check {
    let missing = integration.missingFields
    return .init(
        name: "configuration", ok: missing.isEmpty,
        detail: missing.isEmpty ? "all required settings present" : "missing: \(missing.joined(separator: ", "))")
}
