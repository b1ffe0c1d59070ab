import Asterisk
import Storage
import SwitchboardCore

/// The tenant's internal numbers for the manager mapping: from the PBX itself (`PJSIPShowEndpoints`,
/// falling back to chan_sip's `SIPpeers`) when the AMI connection is up, and from the calls seen so far.
public enum PBXExtensions {
    /// One extension and where it was found (`pbx` or `calls`).
    public struct Listed: Sendable, Encodable, Equatable {
        public var number: String
        public var source: String

        public init(number: String, source: String) {
            self.number = number
            self.source = source
        }
    }

    /// The extensions, sorted numerically, and why the PBX could not list them (nil when it did).
    public static func list(
        client: AMIClient?, parties: PartyClassifier, calls: CallRepository, tenantID: String
    ) async throws -> (extensions: [Listed], pbxProblem: String?) {
        var found: [String: String] = [:]
        var problem: String?
        if let client, client.state == .connected {
            let endpoints = await endpoints(client)
            if endpoints.isEmpty { problem = "the PBX listed no PJSIP or SIP endpoints (does the AMI user have the 'system' read permission?)" }
            for name in endpoints where parties.isExtension(name) { found[name] = "pbx" }
        } else {
            problem = client == nil ? "no AMI connection is configured for this tenant" : "the AMI connection is not up right now"
        }
        for number in try await calls.recentExtensions(tenantID: tenantID) where parties.isExtension(number) && found[number] == nil {
            found[number] = "calls"
        }
        let listed = found.map { Listed(number: $0.key, source: $0.value) }
            .sorted { ($0.number.count, $0.number) < ($1.number.count, $1.number) }
        return (listed, problem)
    }

    /// Endpoint names from PJSIP, or from chan_sip when PJSIP lists none.
    static func endpoints(_ client: AMIClient) async -> [String] {
        let pjsip = (try? await client.sendList(AMIMessage([("Action", "PJSIPShowEndpoints")]))) ?? []
        let names = pjsip.compactMap { $0.event == "EndpointList" ? $0["ObjectName"] : nil }
        if !names.isEmpty { return names }
        let sip = (try? await client.sendList(AMIMessage([("Action", "SIPpeers")]))) ?? []
        return sip.compactMap { $0.event == "PeerEntry" ? $0["ObjectName"] : nil }
    }
}
