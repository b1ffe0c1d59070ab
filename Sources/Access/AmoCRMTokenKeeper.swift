import AmoCRM
import AsyncHTTPClient
import Foundation
import Jobs
import SQLKit
import Storage
import SwitchboardCore

/// Keeps amoCRM OAuth tokens fresh. An access token lives 24 h and the refresh token is single-use, so
/// two refreshes racing would leave one worker with a dead token and lose the connection: in this process
/// one refresh per tenant runs at a time (the others wait for it), and across processes the
/// `TenantRefreshLock` does the same — whoever comes second finds the new token stored and uses it.
///
/// A long-lived token (secret `long_lived_token`, private integrations) needs none of this and wins when set.
/// The OAuth tokens live in the tenant's `amocrm` integration: secrets `access_token`, `refresh_token`,
/// `client_secret`; settings `base_url`, `client_id`, `redirect_uri`, `token_expires_at` (unix seconds).
public final class AmoCRMTokenKeeper: Sendable {
    /// Tokens are renewed this long before they expire.
    public static let renewalMargin: TimeInterval = 600

    let database: Database
    let secrets: SecretBox
    let httpClient: HTTPClient
    private let tokens = SingleFlightTokens(renewalMargin: renewalMargin)
    /// Refreshes done by this process (monitoring and tests).
    public var refreshCount: Int { get async { await tokens.refreshCount } }

    public init(database: Database, secrets: SecretBox, httpClient: HTTPClient = .crm) {
        self.database = database
        self.secrets = secrets
        self.httpClient = httpClient
    }

    /// The token source of one tenant's integration.
    public nonisolated func source(_ integration: Integration) -> any AmoCRMTokenSource {
        if let token = integration.secrets["long_lived_token"], !token.isEmpty { return FixedAmoCRMToken(token) }
        return AmoCRMTenantTokens(keeper: self, tenantID: integration.tenantID)
    }

    /// A token with at least the renewal margin left, refreshed first when needed.
    public func accessToken(tenantID: String) async throws -> String {
        try await renewedToken(tenantID: tenantID, rejecting: nil)
    }

    /// A token other than `rejected` (amoCRM answered 401 to it).
    public func renewedToken(tenantID: String, rejecting rejected: String?) async throws -> String {
        let (database, secrets, httpClient) = (database, secrets, httpClient)
        return try await tokens.token(tenantID: tenantID, rejecting: rejected) {
            try await Self.refresh(tenantID: tenantID, rejecting: rejected, database: database, secrets: secrets, httpClient: httpClient)
        }
    }

    /// Stores the tokens of a fresh authorization.
    public func install(tenantID: String, tokens fresh: AmoCRMTokens, settings extra: [String: JSONValue] = [:]) async throws -> Integration {
        let saved = try await Self.save(fresh, tenantID: tenantID, extra: extra, on: database, secrets: secrets)
        await tokens.store(tenantID: tenantID, token: fresh.accessToken, expiresAt: fresh.expiresAt)
        return saved
    }

    /// Forgets what this process cached (the integration was changed by hand).
    public func forget(tenantID: String) async { await tokens.forget(tenantID: tenantID) }

    /// Under the tenant's refresh lock: the stored token if another process has just renewed it, else a refresh.
    private static func refresh(
        tenantID: String, rejecting rejected: String?, database: Database, secrets: SecretBox, httpClient: HTTPClient
    ) async throws -> SingleFlightTokens.Refreshed {
        try await TenantRefreshLock.run("amocrm-oauth", tenantID: tenantID, database: database) { runner in
            guard let integration = try await IntegrationRepository(runner, secrets: secrets).find(tenantID: tenantID, kind: .amocrm) else {
                throw JobFailure.permanent("the tenant has no amocrm integration")
            }
            let expiresAt = Date(timeIntervalSince1970: Double(integration.settings["token_expires_at"]?.intValue ?? 0))
            if let token = integration.secrets["access_token"], !token.isEmpty, token != rejected, expiresAt.timeIntervalSinceNow > Self.renewalMargin {
                return (token, expiresAt, false)  // still good, or another process has just renewed it
            }
            guard let refreshToken = integration.secrets["refresh_token"], !refreshToken.isEmpty else {
                throw JobFailure.permanent("the amoCRM integration has no refresh token; connect it again (OAuth) or set secrets.long_lived_token")
            }
            let fresh: AmoCRMTokens
            do {
                fresh = try await Self.oauthClient(integration, httpClient: httpClient).refresh(refreshToken)
            } catch let error as AmoCRMError where (400..<500).contains(error.status) && error.status != 429 {
                throw JobFailure.permanent(
                    "amoCRM refused to renew the tokens (\(error.summary)); the refresh token lives 3 months and works once — connect the integration again")
            }
            _ = try await Self.save(fresh, tenantID: tenantID, extra: [:], on: runner, secrets: secrets)
            return (fresh.accessToken, fresh.expiresAt, true)
        }
    }

    /// The OAuth client of an integration (`base_url`, `client_id`, `redirect_uri` settings; `client_secret` secret).
    public static func oauthClient(_ integration: Integration, httpClient: HTTPClient = .crm) throws -> AmoCRMOAuthClient {
        guard let base = integration.settings["base_url"]?.stringValue, !base.isEmpty else {
            throw JobFailure.permanent("the amoCRM integration needs settings.base_url (https://yourcompany.amocrm.ru)")
        }
        guard let clientID = integration.settings["client_id"]?.stringValue, !clientID.isEmpty,
            let clientSecret = integration.secrets["client_secret"], !clientSecret.isEmpty
        else {
            throw JobFailure.permanent("the amoCRM integration needs settings.client_id and secrets.client_secret of the amoCRM integration")
        }
        let redirect = integration.settings["redirect_uri"]?.stringValue ?? ""
        return AmoCRMOAuthClient(baseURL: base, clientID: clientID, clientSecret: clientSecret, redirectURI: redirect, httpClient: httpClient)
    }

    static func save(
        _ tokens: AmoCRMTokens, tenantID: String, extra: [String: JSONValue], on runner: any SQLRunner, secrets: SecretBox
    ) async throws -> Integration {
        var settings = extra
        settings["token_expires_at"] = .number(tokens.expiresAt.timeIntervalSince1970.rounded(.down))
        return try await IntegrationRepository(runner, secrets: secrets).save(
            tenantID: tenantID, kind: .amocrm,
            change: .init(secrets: ["access_token": tokens.accessToken, "refresh_token": tokens.refreshToken], mergingSettings: settings))
    }
}

/// One tenant's OAuth tokens, as the client asks for them.
struct AmoCRMTenantTokens: AmoCRMTokenSource {
    let keeper: AmoCRMTokenKeeper
    let tenantID: String
    var canRenew: Bool { true }

    func accessToken() async throws -> String { try await keeper.accessToken(tenantID: tenantID) }
    func renewedToken(rejecting rejected: String) async throws -> String {
        try await keeper.renewedToken(tenantID: tenantID, rejecting: rejected)
    }
}
