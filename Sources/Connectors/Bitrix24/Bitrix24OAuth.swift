import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore

/// Hands an installed app's access token to the client, and a new one when the portal refused the old one.
public protocol Bitrix24TokenSource: Sendable {
    /// The token to send now.
    func accessToken() async throws -> String
    /// A token other than `rejected`, which the portal answered `expired_token` to.
    func renewedToken(rejecting rejected: String) async throws -> String
}

/// A token that is never renewed (an event's own token, tests).
public struct Bitrix24FixedToken: Bitrix24TokenSource {
    let token: String
    public init(_ token: String) { self.token = token }
    public func accessToken() async throws -> String { token }
    public func renewedToken(rejecting rejected: String) async throws -> String {
        throw Bitrix24Error(status: 401, code: "expired_token", message: "the access token expired and cannot be renewed here")
    }
}

/// What Bitrix24's OAuth server answers for an authorization code or a refresh token.
public struct Bitrix24Tokens: Sendable, Equatable {
    public var accessToken: String
    /// Rotated on every refresh: the old one stops working, so the new one must be saved at once.
    public var refreshToken: String
    public var expiresAt: Date
    /// Where REST calls go, e.g. `https://portal.bitrix24.ru/rest/`.
    public var clientEndpoint: String
    public var memberID: String?
    public var domain: String?
    public var scope: String?
    public var userID: Int?

    public init(
        accessToken: String, refreshToken: String, expiresAt: Date, clientEndpoint: String, memberID: String? = nil,
        domain: String? = nil, scope: String? = nil, userID: Int? = nil
    ) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
        self.clientEndpoint = clientEndpoint
        self.memberID = memberID
        self.domain = domain
        self.scope = scope
        self.userID = userID
    }
}

/// Bitrix24's OAuth 2.0 token endpoint (`GET https://oauth.bitrix24.tech/oauth/token/?grant_type=…`):
/// authorization codes (they live 30 s) and refresh tokens (180 days, rotated) for access tokens (1 h).
public struct Bitrix24OAuthClient: Sendable {
    /// Bitrix24's token endpoint; older portals and events name `oauth.bitrix.info`, which answers the same.
    public static let defaultTokenURL = "https://oauth.bitrix24.tech/oauth/token/"

    public let tokenURL: String
    public let clientID: String
    let clientSecret: String
    let httpClient: HTTPClient
    let timeout: Duration

    public init(tokenURL: String = Self.defaultTokenURL, clientID: String, clientSecret: String, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(15)) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.httpClient = httpClient
        self.timeout = timeout
    }

    /// The address an admin opens to grant the app access to `portal` (`https://portal.bitrix24.ru`);
    /// Bitrix24 redirects to the app's configured handler with `code` and `state`.
    public func authorizeURL(portal: String, state: String) -> String {
        var base = portal.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/oauth/authorize/?" + FormURLEncoding.encode([("client_id", clientID), ("state", state)])
    }

    /// Trades an authorization code for tokens.
    public func exchange(code: String) async throws -> Bitrix24Tokens {
        try await request([("grant_type", "authorization_code"), ("code", code)])
    }

    /// Trades a refresh token for new tokens (the refresh token is rotated).
    public func refresh(_ refreshToken: String) async throws -> Bitrix24Tokens {
        try await request([("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
    }

    private func request(_ grant: [(String, String)]) async throws -> Bitrix24Tokens {
        let query = FormURLEncoding.encode(grant + [("client_id", clientID), ("client_secret", clientSecret)])
        var request = HTTPClientRequest(url: tokenURL + (tokenURL.contains("?") ? "&" : "?") + query)
        request.headers.add(name: "Accept", value: "application/json")
        let answer = try await Bitrix24Client.send(request, httpClient: httpClient, timeout: timeout, limit: 1 << 20, server: "Bitrix24's OAuth server")
        let object = try Bitrix24Client.object(answer)
        guard let access = object["access_token"]?.stringValue, let refresh = object["refresh_token"]?.stringValue,
            let endpoint = object["client_endpoint"]?.stringValue
        else { throw Bitrix24Error(status: answer.status, code: "", message: "HTTP \(answer.status) without tokens from the OAuth server") }
        let expires = object["expires"]?.intValue.map { Date(timeIntervalSince1970: Double($0)) }
            ?? Date().addingTimeInterval(Double(object["expires_in"]?.intValue ?? 3600))
        return Bitrix24Tokens(
            accessToken: access, refreshToken: refresh, expiresAt: expires, clientEndpoint: endpoint,
            memberID: object["member_id"]?.stringValue, domain: object["domain"]?.stringValue, scope: object["scope"]?.stringValue,
            userID: object["user_id"]?.intValue)
    }
}
