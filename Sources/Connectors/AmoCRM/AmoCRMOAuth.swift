import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore

/// What amoCRM's token endpoint answers: an access token (24 h) and a refresh token that is **single-use**
/// — each refresh returns a new one and the old one dies, so it must be stored before anything else.
public struct AmoCRMTokens: Sendable, Equatable {
    public var accessToken: String
    public var refreshToken: String
    public var expiresAt: Date

    public init(accessToken: String, refreshToken: String, expiresAt: Date) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
    }
}

/// amoCRM / Kommo OAuth 2.0 (`POST https://{subdomain}.amocrm.ru/oauth2/access_token`, JSON body): an
/// authorization code (it lives 20 minutes) or a refresh token, traded for tokens.
public struct AmoCRMOAuthClient: Sendable {
    /// Where an admin grants access (`mode=post_message` keeps the redirect in the opener on amoCRM's side).
    public static let defaultAuthorizeURL = "https://www.amocrm.ru/oauth"

    /// The account's address (`https://company.amocrm.ru`); the token endpoint is under it.
    public let baseURL: String
    public let clientID: String
    let clientSecret: String
    /// Must equal the redirect URI registered for the integration, or amoCRM refuses the code.
    public let redirectURI: String
    let httpClient: HTTPClient
    let timeout: Duration

    public init(baseURL: String, clientID: String, clientSecret: String, redirectURI: String, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(15)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.httpClient = httpClient
        self.timeout = timeout
    }

    /// The address an admin opens to grant access; amoCRM sends them back to the redirect URI with `code`,
    /// `state` and `referer` (the account's host).
    public func authorizeURL(state: String, authorizeURL: String = Self.defaultAuthorizeURL) -> String {
        authorizeURL + "?" + FormURLEncoding.encode([("client_id", clientID), ("state", state), ("mode", "post_message")])
    }

    /// Trades an authorization code for tokens.
    public func exchange(code: String) async throws -> AmoCRMTokens {
        try await request(["grant_type": "authorization_code", "code": .string(code)])
    }

    /// Trades a refresh token for new tokens; the old refresh token stops working.
    public func refresh(_ refreshToken: String) async throws -> AmoCRMTokens {
        try await request(["grant_type": "refresh_token", "refresh_token": .string(refreshToken)])
    }

    private func request(_ grant: [String: JSONValue]) async throws -> AmoCRMTokens {
        var body = grant
        body["client_id"] = .string(clientID)
        body["client_secret"] = .string(clientSecret)
        body["redirect_uri"] = .string(redirectURI)
        var request = HTTPClientRequest(url: baseURL + "/oauth2/access_token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: JSONValue.object(body).jsonText))
        let (status, data) = try await AmoCRMClient.execute(request, httpClient: httpClient, timeout: timeout, limit: 1 << 20, server: "amoCRM's OAuth server")
        guard (200..<300).contains(status) else { throw AmoCRMError.from(status: status, body: data) }
        let object = JSONValue(jsonText: String(decoding: data, as: UTF8.self))?.objectValue ?? [:]
        guard let access = object["access_token"]?.stringValue, !access.isEmpty, let refresh = object["refresh_token"]?.stringValue, !refresh.isEmpty else {
            throw AmoCRMError(status: status, title: "", detail: "HTTP \(status) without tokens from amoCRM's OAuth server", fields: [])
        }
        let lifetime = Double(object["expires_in"]?.intValue ?? 86_400)
        return AmoCRMTokens(accessToken: access, refreshToken: refresh, expiresAt: Date().addingTimeInterval(lifetime))
    }
}
