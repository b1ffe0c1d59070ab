import Bitrix24
import Foundation
import Storage
import SwitchboardCore

/// Tokens handed to Switchboard from outside — the app's install handler, `ONAPPINSTALL` — stored only
/// after the tenant's configured portal accepted them as its own app's: `app.info` answers and names the
/// app (`CODE` = `settings.client_id`), so a forged request, another portal or another app installed on
/// the same portal cannot plant tokens.
extension Bitrix24Access {
    /// What an install brings. Without a refresh token (an `ONAPPINSTALL` of a token-less subscriber),
    /// only the application token is stored.
    public struct AppInstall: Sendable {
        public var accessToken: String
        public var refreshToken: String?
        public var expiresIn: TimeInterval
        public var memberID: String?
        public var domain: String?
        public var applicationToken: String?

        public init(
            accessToken: String, refreshToken: String?, expiresIn: TimeInterval?, memberID: String?, domain: String?, applicationToken: String?
        ) {
            self.accessToken = accessToken
            self.refreshToken = refreshToken
            self.expiresIn = expiresIn ?? 3600
            self.memberID = memberID
            self.domain = domain
            self.applicationToken = applicationToken
        }
    }

    /// Verifies `install` against the tenant's portal and app, then stores it; `refused` when it is not theirs.
    public func install(_ install: AppInstall, integration: Integration, refused: SwitchboardError) async throws {
        let endpoint = try await verifiedEndpoint(integration, accessToken: install.accessToken, refused: refused)
        if let refresh = install.refreshToken {
            let issued = Bitrix24Tokens(
                accessToken: install.accessToken, refreshToken: refresh, expiresAt: Date().addingTimeInterval(install.expiresIn),
                clientEndpoint: endpoint, memberID: install.memberID, domain: install.domain)
            _ = try await tokens.install(tenantID: integration.tenantID, tokens: issued, applicationToken: install.applicationToken)
        } else if let applicationToken = install.applicationToken {
            _ = try await IntegrationRepository(database, secrets: tokens.secrets).save(
                tenantID: integration.tenantID, kind: .bitrix24, change: .init(secrets: ["application_token": applicationToken]))
        }
    }

    /// The REST address the configured portal answers at, once it accepted `accessToken` as a token of
    /// the tenant's own app; `refused` otherwise.
    func verifiedEndpoint(_ integration: Integration, accessToken: String, refused: SwitchboardError) async throws -> String {
        guard let endpoint = Self.configuredEndpoint(integration) else {
            throw SwitchboardError.invalid("settings.portal_url", "set the tenant's portal address before installing the app", code: "missing_field")
        }
        guard let clientID = integration.settings["client_id"]?.stringValue, !clientID.isEmpty else {
            throw SwitchboardError.invalid(
                "settings.client_id", "set the app's client_id before installing it: only that app's tokens are accepted", code: "missing_field")
        }
        let client = Bitrix24Client(endpoint: .app(clientEndpoint: endpoint, accessToken: accessToken), httpClient: .crm, timeout: .seconds(10))
        let info: Bitrix24Answer
        do {
            info = try await client.call("app.info")
        } catch let error as Bitrix24Error where error.isRetryable {
            throw SwitchboardError(.unavailable, code: "bitrix24_unavailable", message: "the portal did not answer to check the tokens: \(error)")
        } catch {
            throw refused
        }
        guard info.result.objectValue?["CODE"]?.stringValue == clientID else { throw refused }
        return endpoint
    }

    /// `client_endpoint` if known, else `<portal_url>/rest/`.
    public static func configuredEndpoint(_ integration: Integration) -> String? {
        if let endpoint = integration.settings["client_endpoint"]?.stringValue, !endpoint.isEmpty { return endpoint }
        guard var portal = integration.settings["portal_url"]?.stringValue?.trimmingCharacters(in: .whitespaces), !portal.isEmpty else { return nil }
        while portal.hasSuffix("/") { portal.removeLast() }
        return portal + "/rest/"
    }
}
