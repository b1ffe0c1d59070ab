import Asterisk
import Foundation
import Storage
import SwitchboardCore

/// Click-to-call from a CRM: the manager's extension rings first, then the PBX dials the customer
/// (AMI `Originate` on this process's connection to the tenant's PBX). Every attempt is in the
/// integration log under `source`.
public struct ClickToCall: Sendable {
    let stores: Stores
    let pbx: PBXConnections

    public init(stores: Stores, pbx: PBXConnections) {
        self.stores = stores
        self.pbx = pbx
    }

    public func originate(tenant: Tenant, extension number: String, phone: String, source: String) async throws {
        guard let integration = try await stores.integrations.find(tenantID: tenant.id, kind: .asterisk), integration.enabled else {
            throw SwitchboardError(.conflict, code: "pbx_not_configured", message: "the tenant has no enabled asterisk integration", field: "integration")
        }
        let settings = try PBXSettings(integration)
        guard let client = await pbx.client(for: tenant.id), client.state == .connected else {
            throw SwitchboardError(.unavailable, code: "pbx_not_connected", message: "the PBX is not connected right now; try again in a moment")
        }
        let action = AMIMessage([
            ("Action", "Originate"), ("Channel", settings.originateChannel.replacingOccurrences(of: "{extension}", with: number)),
            ("Context", settings.originateContext), ("Exten", phone), ("Priority", "1"), ("CallerID", "\"\(phone)\" <\(phone)>"),
            ("Timeout", "30000"), ("Async", "true"), ("Variable", "SWITCHBOARD_SOURCE=\(source)"),
        ])
        let started = ContinuousClock.now
        let answer: AMIMessage
        do {
            answer = try await client.send(action)
        } catch {
            await log(tenant, source: source, ok: false, request: "\(number) → \(phone)", response: "\(error)", started: started)
            throw SwitchboardError(.unavailable, code: "pbx_error", message: "the PBX did not take the call: \(error)")
        }
        let ok = answer.response?.lowercased() == "success"
        await log(tenant, source: source, ok: ok, request: "\(number) → \(phone)", response: answer.description, started: started)
        guard ok else {
            throw SwitchboardError(.unavailable, code: "pbx_refused", message: "the PBX refused the call: \(answer["Message"] ?? "no reason given")")
        }
    }

    private func log(_ tenant: Tenant, source: String, ok: Bool, request: String, response: String?, started: ContinuousClock.Instant) async {
        try? await stores.logs.append(
            IntegrationLogEntry(
                tenantID: tenant.id, integration: source, event: "click_to_call", ok: ok, request: request, response: response,
                duration: ContinuousClock.now - started))
    }
}
