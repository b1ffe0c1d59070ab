import Access
import AmoCRM
import Foundation
import Jobs
import SwitchboardCore

/// amoCRM's "test connection": the account answers at `base_url`, accepts the token (OAuth or long-lived),
/// and shows its pipelines; says whether webhooks are registered.
struct AmoCRMTester: ConnectionTester {
    let access: AmoCRMAccess

    func test(_ integration: Integration) async -> ConnectionTestResult {
        var checks = [configurationCheck(integration)]
        guard checks[0].ok else { return .init(checks: checks) }
        guard AmoCRMAccess.isConnected(integration) else {
            checks.append(.init(name: "token", ok: false, detail: "not connected yet: authorize through OAuth (POST …/integrations/amocrm/authorize) or set secrets.long_lived_token"))
            return .init(checks: checks)
        }
        do {
            let client = try access.client(integration, event: "integration.test")
            let started = ContinuousClock.now
            let account = try await client.get("/api/v4/account") ?? [:]
            let elapsed = (ContinuousClock.now - started).formatted(.units(allowed: [.milliseconds]))
            let name = account["name"]?.scalarText ?? "?"
            checks.append(.init(name: "token", ok: true, detail: "amoCRM account '\(name)' (id \(account["id"]?.scalarText ?? "?")) accepted the token in \(elapsed)"))
            let statuses = try await AmoCRMMirrorSource(client: client).statusIDs()
            checks.append(.init(name: "pipelines", ok: !statuses.isEmpty, detail: "\(statuses.count) pipeline statuses readable"))
        } catch let error as AmoCRMError {
            let detail =
                switch error.status {
                case 0: "no answer from \(integration.settings["base_url"]?.stringValue ?? "?"): \(error.detail)"
                case 401: "amoCRM refused the token: \(error.summary)"
                case 403: "amoCRM refused access (an IP not in the account's API whitelist, or a blocked account): \(error.summary)"
                case 404: "the address does not look like an amoCRM account (HTTP 404)"
                default: "amoCRM answered \(error)"
                }
            checks.append(.init(name: "token", ok: false, detail: detail))
        } catch let failure as JobFailure {
            checks.append(.init(name: "token", ok: false, detail: failure.message))
        } catch {
            checks.append(.init(name: "token", ok: false, detail: "\(error)"))
        }
        let hooked = !(integration.secrets["webhook_secret"] ?? "").isEmpty
        checks.append(.init(
            name: "webhooks", ok: true,
            detail: hooked ? "a webhook address exists (POST …/integrations/amocrm/webhooks registers it again)"
                : "no webhooks yet: changes arrive only with scheduled syncs until POST …/integrations/amocrm/webhooks"))
        return .init(checks: checks)
    }
}
