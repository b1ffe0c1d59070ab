import Asterisk
import Foundation
import Logging
import Storage
import SwitchboardCore

/// The seed's smart redirect over AMI: when an inbound call starts ringing, ask RetailCRM (within the
/// budget, through the cached router) who the caller's responsible manager is, and move the caller's
/// channel to that manager's extension with `Redirect`. A call is redirected at most once; when no
/// manager is found in time, or the manager's extension is already the one ringing, the call goes on
/// as the dialplan routes it. Every redirect (and failure) is in the integration log.
public struct SmartRedirect: Sendable {
    let tenant: Tenant
    let settings: PBXSettings
    let client: AMIClient
    let routes: ResponsibleManagerRouter
    let database: Database
    let secrets: SecretBox
    let logger: Logger

    /// `stillRinging` is asked after the lookup: a call answered (or ended) meanwhile is left alone.
    func run(callID: String, phone: String, channel: String, ringing: String, stillRinging: @Sendable () async -> Bool) async {
        let started = ContinuousClock.now
        guard let integration = try? await IntegrationRepository(database, secrets: secrets).find(tenantID: tenant.id, kind: .retailcrm),
            integration.enabled
        else { return }
        let route = await routes.route(integration, phone: phone, budget: settings.redirectBudget)
        guard let target = route.extensionNumber, target != ringing, await stillRinging() else { return }
        let action = AMIMessage([
            ("Action", "Redirect"), ("Channel", channel), ("Context", settings.redirectContext), ("Exten", target), ("Priority", "1"),
        ])
        var ok = false
        var answer = ""
        do {
            let response = try await client.send(action)
            ok = response.response?.lowercased() == "success"
            answer = response["Message"] ?? response.description
        } catch {
            answer = "\(error)"
        }
        logger.info("smart redirect", metadata: ["call": "\(callID)", "extension": "\(target)", "ok": "\(ok)"])
        try? await IntegrationLogRepository(database).append(
            IntegrationLogEntry(
                tenantID: tenant.id, integration: "asterisk", event: "smart_redirect", ok: ok,
                request: "call \(callID) from \(phone): \(channel) → \(target)@\(settings.redirectContext) (manager \(route.managerID.map(String.init) ?? "?"))",
                response: answer, duration: ContinuousClock.now - started))
    }
}
