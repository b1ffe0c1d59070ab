import AsyncHTTPClient
import Bitrix24
import Foundation
import Jobs
import SQLKit
import Storage
import SwitchboardCore

/// Keeps installed Bitrix24 apps' tokens fresh. An access token lives an hour and each refresh rotates
/// the refresh token, so two refreshes racing would leave one worker with a dead token and could lose the
/// install: in this process one refresh per tenant runs at a time (the others wait for it), and on
/// PostgreSQL a transaction-scoped advisory lock does the same across processes — whoever gets the lock
/// second finds the new token already stored and uses it.
///
/// The app's tokens live in the tenant's `bitrix24` integration: secrets `access_token`, `refresh_token`,
/// `client_secret`, `application_token`; settings `client_id`, `client_endpoint`, `token_expires_at`
/// (unix seconds), `member_id`, optional `oauth_url` (the token endpoint, Bitrix24's by default).
public final class Bitrix24TokenKeeper: Sendable {
    /// Tokens are renewed this long before they expire, so no request starts with a token about to die.
    public static let renewalMargin: TimeInterval = 300

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

    /// The token source of one tenant's app, for `Bitrix24Endpoint.app`.
    public func source(tenantID: String) -> any Bitrix24TokenSource { TenantTokens(keeper: self, tenantID: tenantID) }

    /// A token with at least the renewal margin left, refreshed first when needed.
    public func accessToken(tenantID: String) async throws -> String {
        try await renewedToken(tenantID: tenantID, rejecting: nil)
    }

    /// A token other than `rejected` (which the portal called expired).
    public func renewedToken(tenantID: String, rejecting rejected: String?) async throws -> String {
        let (database, secrets, httpClient) = (database, secrets, httpClient)
        return try await tokens.token(tenantID: tenantID, rejecting: rejected) {
            try await Self.refresh(tenantID: tenantID, rejecting: rejected, database: database, secrets: secrets, httpClient: httpClient)
        }
    }

    /// Stores the tokens of a fresh install or authorization (and the application token events will carry, when known).
    public func install(tenantID: String, tokens fresh: Bitrix24Tokens, applicationToken: String? = nil) async throws -> Integration {
        let saved = try await Self.save(fresh, tenantID: tenantID, applicationToken: applicationToken, on: database, secrets: secrets)
        await tokens.store(tenantID: tenantID, token: fresh.accessToken, expiresAt: fresh.expiresAt)
        return saved
    }

    /// Forgets what this process cached (after an integration was changed by hand).
    public func forget(tenantID: String) async { await tokens.forget(tenantID: tenantID) }

    /// Under the tenant's refresh lock: the stored token if another process has just renewed it, else a refresh.
    private static func refresh(
        tenantID: String, rejecting rejected: String?, database: Database, secrets: SecretBox, httpClient: HTTPClient
    ) async throws -> SingleFlightTokens.Refreshed {
        try await TenantRefreshLock.run("bitrix24-oauth", tenantID: tenantID, database: database) { runner in
            let stores = IntegrationRepository(runner, secrets: secrets)
            guard let integration = try await stores.find(tenantID: tenantID, kind: .bitrix24) else {
                throw JobFailure.permanent("the tenant has no bitrix24 integration")
            }
            let expiresAt = Date(timeIntervalSince1970: Double(integration.settings["token_expires_at"]?.intValue ?? 0))
            if let token = integration.secrets["access_token"], !token.isEmpty, token != rejected,
                expiresAt.timeIntervalSinceNow > Self.renewalMargin
            {
                return (token, expiresAt, false)  // still good, or another process has just renewed it
            }
            let oauth = try Self.oauthClient(integration, httpClient: httpClient)
            guard let refreshToken = integration.secrets["refresh_token"], !refreshToken.isEmpty else {
                throw JobFailure.permanent("the Bitrix24 app has no refresh token; install the app again")
            }
            let fresh: Bitrix24Tokens
            do {
                fresh = try await oauth.refresh(refreshToken)
            } catch let error as Bitrix24Error where !error.isRetryable {
                throw JobFailure.permanent(
                    "Bitrix24 refused to renew the app's tokens (\(error)); the refresh token lives 180 days — install the app again")
            }
            _ = try await Self.save(fresh, tenantID: tenantID, applicationToken: nil, on: runner, secrets: secrets)
            return (fresh.accessToken, fresh.expiresAt, true)
        }
    }

    /// The OAuth client of an integration's app (`client_id` setting, `client_secret` secret).
    public static func oauthClient(_ integration: Integration, httpClient: HTTPClient = .crm) throws -> Bitrix24OAuthClient {
        guard let clientID = integration.settings["client_id"]?.stringValue, !clientID.isEmpty,
            let clientSecret = integration.secrets["client_secret"], !clientSecret.isEmpty
        else {
            throw JobFailure.permanent("the Bitrix24 integration needs settings.client_id and secrets.client_secret of the app")
        }
        let url = integration.settings["oauth_url"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? Bitrix24OAuthClient.defaultTokenURL
        return Bitrix24OAuthClient(tokenURL: url, clientID: clientID, clientSecret: clientSecret, httpClient: httpClient)
    }

    static func save(
        _ tokens: Bitrix24Tokens, tenantID: String, applicationToken: String?, on runner: any SQLRunner, secrets: SecretBox
    ) async throws -> Integration {
        let repository = IntegrationRepository(runner, secrets: secrets)
        var settings: [String: JSONValue] = [:]
        settings["client_endpoint"] = .string(tokens.clientEndpoint)
        settings["token_expires_at"] = .number(tokens.expiresAt.timeIntervalSince1970.rounded(.down))
        if let member = tokens.memberID { settings["member_id"] = .string(member) }
        if let scope = tokens.scope { settings["scope"] = .string(scope) }
        if let user = tokens.userID { settings["app_user_id"] = .number(Double(user)) }
        var changed: [String: String?] = ["access_token": tokens.accessToken, "refresh_token": tokens.refreshToken]
        if let applicationToken, !applicationToken.isEmpty { changed["application_token"] = applicationToken }
        return try await repository.save(tenantID: tenantID, kind: .bitrix24, change: .init(secrets: changed, mergingSettings: settings))
    }
}

/// One tenant's tokens, as the client asks for them.
struct TenantTokens: Bitrix24TokenSource {
    let keeper: Bitrix24TokenKeeper
    let tenantID: String

    func accessToken() async throws -> String { try await keeper.accessToken(tenantID: tenantID) }
    func renewedToken(rejecting rejected: String) async throws -> String {
        try await keeper.renewedToken(tenantID: tenantID, rejecting: rejected)
    }
}
