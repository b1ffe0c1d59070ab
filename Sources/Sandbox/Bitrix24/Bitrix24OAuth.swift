import Foundation
import SwitchboardCore

/// `/oauth/token/` of the Bitrix24 emulator: authorization codes (30 s), access tokens (1 h), rotated refresh tokens.
extension Bitrix24Emulator {
    static let accessTokenLifetime = 3600.0
    static let authorizationCodeLifetime = 30.0
    static let scope = "crm,user,telephony,event"

    /// An authorization code as the redirect after `/oauth/authorize/` would carry (test control); it lives 30 s.
    public func issueAuthorizationCode() -> String {
        let code = B24.hex(&rng, count: 32)
        authorizationCodes[code] = clock() + Self.authorizationCodeLifetime
        return code
    }

    /// An access token for the application acting as `userID`, without the OAuth dance (test control).
    public func issueAccessToken(userID: Int = 1) -> String {
        let token = B24.hex(&rng, count: 32)
        accessTokens[token] = (clock() + Self.accessTokenLifetime, userID)
        return token
    }

    func oauthToken(_ params: [String: JSONValue]) -> Answer {
        func text(_ name: String) -> String? { B24.text(params[name]) }
        guard text("client_id") == clientID, text("client_secret") == clientSecret else {
            return .error(401, "invalid_client", "Invalid client credentials")
        }
        let now = clock()
        let user: Int
        switch text("grant_type") {
        case "authorization_code":
            guard let code = text("code"), let expires = authorizationCodes.removeValue(forKey: code), expires > now else {
                return .error(400, "invalid_grant", "Invalid authorization code")
            }
            user = 1
        case "refresh_token":
            guard let refresh = text("refresh_token"), let owner = refreshTokens.removeValue(forKey: refresh) else {
                return .error(400, "invalid_grant", "Invalid refresh token")
            }
            user = owner
        default:
            return .error(400, "unsupported_grant_type", "Unsupported grant type")
        }
        let access = issueAccessToken(userID: user)
        let refresh = B24.hex(&rng, count: 32)
        refreshTokens[refresh] = user
        return Answer(status: 200, body: [
            "access_token": .string(access), "refresh_token": .string(refresh),
            "expires": .number((now + Self.accessTokenLifetime).rounded(.down)), "expires_in": .number(Self.accessTokenLifetime),
            "client_endpoint": .string(baseURL + "/rest/"), "server_endpoint": .string(baseURL + "/rest/"),
            "domain": .string(domain), "member_id": .string(memberID), "scope": .string(Self.scope), "status": "L",
            "user_id": .number(Double(user)),
        ])
    }
}
