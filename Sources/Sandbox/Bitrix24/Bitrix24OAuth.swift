import Foundation
import SwitchboardCore

/// `/oauth/token/` of the Bitrix24 emulator: authorization codes (30 s), access tokens (1 h), rotated refresh tokens.
extension Bitrix24Emulator {
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
        accessTokens[token] = (clock() + accessTokenLifetime, userID)
        return token
    }

    /// An access and a refresh token of the app — or, with `app`, of another application installed on
    /// the same portal — as an install hands them over (test control).
    public func issueTokens(userID: Int = 1, app: String? = nil) -> (access: String, refresh: String) {
        let refresh = B24.hex(&rng, count: 32)
        refreshTokens[refresh] = userID
        let access = issueAccessToken(userID: userID)
        if let app { tokenApps[access] = app }
        return (access, refresh)
    }

    /// Every access token issued so far expires now, as an hour later (test control).
    public func expireAccessTokens() {
        let now = clock()
        accessTokens = accessTokens.mapValues { (min($0.expires, now - 1), $0.user) }
    }

    /// The form Bitrix24 posts to the app's event handler when the app is installed (`ONAPPINSTALL`), with
    /// fresh tokens and the application token (test control: the caller delivers it).
    public func appInstallEvent() -> String {
        let (access, refresh) = issueTokens()
        let now = Int(clock())
        return FormURLEncoding.encode([
            ("event", "ONAPPINSTALL"), ("data[VERSION]", "1"), ("data[ACTIVE]", "Y"), ("data[INSTALLED]", "Y"), ("data[LANGUAGE_ID]", "ru"),
            ("ts", String(now)), ("auth[access_token]", access), ("auth[expires]", String(now + Int(accessTokenLifetime))),
            ("auth[expires_in]", String(Int(accessTokenLifetime))), ("auth[scope]", Self.scope), ("auth[domain]", domain),
            ("auth[server_endpoint]", baseURL + "/rest/"), ("auth[status]", "L"), ("auth[client_endpoint]", baseURL + "/rest/"),
            ("auth[member_id]", memberID), ("auth[user_id]", "1"), ("auth[refresh_token]", refresh),
            ("auth[application_token]", applicationToken),
        ])
    }

    /// `app.info` with the caller's token: how an app install handler proves the tokens it was handed are real.
    func appInfo(code: String) -> Outcome {
        .ok(["ID": 7, "CODE": .string(code), "VERSION": 1, "STATUS": "L", "INSTALLED": true, "PAYMENT_EXPIRED": "N",
             "DAYS": .null, "LICENSE": "ru_project", "LANGUAGE_ID": "ru"])
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
            tokenRefreshes += 1
            user = owner
        default:
            return .error(400, "unsupported_grant_type", "Unsupported grant type")
        }
        let access = issueAccessToken(userID: user)
        let refresh = B24.hex(&rng, count: 32)
        refreshTokens[refresh] = user
        return Answer(status: 200, body: [
            "access_token": .string(access), "refresh_token": .string(refresh),
            "expires": .number((now + accessTokenLifetime).rounded(.down)), "expires_in": .number(accessTokenLifetime.rounded(.down)),
            "client_endpoint": .string(baseURL + "/rest/"), "server_endpoint": .string(baseURL + "/rest/"),
            "domain": .string(domain), "member_id": .string(memberID), "scope": .string(Self.scope), "status": "L",
            "user_id": .number(Double(user)),
        ])
    }
}
