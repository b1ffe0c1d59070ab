import Foundation
import SwitchboardCore

/// The account's OAuth state: codes (20 minutes, one use), access tokens with their expiry, refresh
/// tokens that work once.
struct AmoCRMEmulatorOAuth {
    var codes: [String: Double] = [:]
    var accessTokens: [String: Double] = [:]
    var refreshTokens: Set<String> = []
    var usedRefreshTokens: Set<String> = []
    var counter = 0
}

extension AmoCRMEmulator {
    /// How long an access token lives (amoCRM: 24 h); tests shorten it.
    public static let accessTokenLifetime: Double = 86_400

    /// What the admin's consent yields: a code for `/oauth2/access_token` (the emulator's "authorize" step).
    public func issueCode() -> String {
        oauth.counter += 1
        let code = "def50200sandboxcode\(oauth.counter)"
        oauth.codes[code] = clock() + 20 * 60
        return code
    }

    /// Makes every access token issued so far expire now (amoCRM revoked or the day passed).
    public func expireAccessTokens() {
        for token in oauth.accessTokens.keys { oauth.accessTokens[token] = 0 }
    }

    func isValid(token: String) -> Bool {
        if token == accessToken { return true }
        guard let expires = oauth.accessTokens[token] else { return false }
        return expires > clock()
    }

    func tokenEndpoint(_ body: String) -> Answer {
        guard let object = JSONValue(jsonText: body)?.objectValue else {
            return Self.problem(400, "Bad Request", detail: "The request body must be JSON")
        }
        guard object["client_id"]?.stringValue == clientID, object["client_secret"]?.stringValue == clientSecret else {
            return Self.oauthError(401, "Client authentication failed")
        }
        // amoCRM checks the redirect URI against the integration's: an address, never a relative path.
        guard let redirect = object["redirect_uri"]?.stringValue, let url = URL(string: redirect), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            return Self.oauthError(400, "Redirect URI is not valid")
        }
        switch object["grant_type"]?.stringValue {
        case "authorization_code":
            guard let code = object["code"]?.stringValue, let expires = oauth.codes.removeValue(forKey: code), expires > clock() else {
                return Self.oauthError(400, "Authorization code has expired")
            }
        case "refresh_token":
            guard let refresh = object["refresh_token"]?.stringValue else { return Self.oauthError(400, "Refresh token is missing") }
            guard oauth.refreshTokens.remove(refresh) != nil else {
                if oauth.usedRefreshTokens.contains(refresh) { reusedRefreshTokens += 1 }
                return Self.oauthError(400, "Token has been revoked")
            }
            oauth.usedRefreshTokens.insert(refresh)
            refreshCount += 1
        default:
            return Self.oauthError(400, "The authorization grant type is not supported by the authorization server.")
        }
        oauth.counter += 1
        let access = "sandbox-oauth-access-\(oauth.counter)"
        let refresh = "def50200sandboxrefresh\(oauth.counter)"
        oauth.accessTokens[access] = clock() + Self.accessTokenLifetime
        oauth.refreshTokens.insert(refresh)
        let answer: JSONValue = [
            "token_type": "Bearer", "expires_in": .number(Self.accessTokenLifetime), "access_token": .string(access), "refresh_token": .string(refresh),
        ]
        return Answer(status: 200, contentType: "application/json", body: answer.jsonText)
    }

    /// amoCRM's OAuth errors: problem+json with a `hint`.
    static func oauthError(_ status: Int, _ hint: String) -> Answer {
        let body: JSONValue = [
            "hint": .string(hint), "title": .string(status == 401 ? "Unauthorized" : "Bad Request"), "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
            "status": .number(Double(status)), "detail": "Некорректный запрос",
        ]
        return Answer(status: status, contentType: "application/problem+json", body: body.jsonText)
    }
}
