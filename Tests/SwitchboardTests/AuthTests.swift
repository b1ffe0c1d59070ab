import Crypto
import Foundation
import HummingbirdTesting
import JWTKit
import Server
import Storage
import SwitchboardCore
import Testing

@Suite("Authentication: admin JWTs, API tokens, external JWTs")
struct AuthTests {
    @Test("login issues a JWT; wrong password and unknown users get the same 401", arguments: TestBackend.all)
    func login(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let ok = try await client.send(
                .post, "/api/v1/auth/login", json: #"{"email":"ROOT@example.com","password":"\#(world.adminPassword)"}"#)
            #expect(ok.status == .ok)
            let token = try #require(ok.object["token"] as? String)
            let me = try await client.send(.get, "/api/v1/auth/me", token: token)
            #expect(me.object["role"] as? String == "super_admin")

            for body in [
                #"{"email":"root@example.com","password":"wrong password!"}"#,
                #"{"email":"nobody@example.com","password":"wrong password!"}"#,
            ] {
                let refused = try await client.send(.post, "/api/v1/auth/login", json: body)
                #expect(refused.status == .unauthorized)
                #expect(refused.errorCode == "invalid_login")
            }
        }
    }

    @Test("expired, forged, alg-none, unknown-kid and garbage JWTs are refused", arguments: TestBackend.all)
    func refusedTokens(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let valid = world.adminToken
            #expect(try await client.send(.get, "/api/v1/tenants", token: valid).status == .ok)

            let parts = valid.split(separator: ".").map(String.init)
            let header = try #require(String(data: base64URLDecode(parts[0]), encoding: .utf8))
            let kid = try #require(header.firstMatch(of: /"kid":"([^"]+)"/)?.1)

            // Signature of another key with the same kid.
            let forgedKeys = JWTKeyCollection()
            await forgedKeys.add(hmac: HMACKey(from: "attacker-secret-attacker-secret!!"), digestAlgorithm: .sha256, kid: JWKIdentifier(string: String(kid)))
            let forged = try await forgedKeys.sign(claims(), kid: JWKIdentifier(string: String(kid)))

            // alg none: header says none, no signature.
            let noneHeader = Identifiers.base64URL(Array(#"{"alg":"none","typ":"JWT","kid":"\#(kid)"}"#.utf8))
            let algNone = "\(noneHeader).\(parts[1])."

            // Unknown kid.
            let otherKeys = JWTKeyCollection()
            await otherKeys.add(hmac: HMACKey(from: "another-secret-another-secret!!!"), digestAlgorithm: .sha256, kid: "nope")
            let unknownKid = try await otherKeys.sign(claims(), kid: "nope")

            // Expired: signed by the real key, in the past.
            let user = try #require(try await world.services.stores.users.find(email: TestWorld.adminEmail))
            let expired = try await world.services.adminTokens.issue(for: user, now: Date().addingTimeInterval(-48 * 3600)).token

            // Payload swapped onto a valid signature.
            let tamperedPayload = Identifiers.base64URL(Array(#"{"sub":"x","role":"super_admin","iss":"switchboard","exp":9999999999,"iat":0}"#.utf8))
            let tampered = "\(parts[0]).\(tamperedPayload).\(parts[2])"

            for bad in [forged, algNone, unknownKid, expired, tampered, "garbage", "a.b.c"] {
                let response = try await client.send(.get, "/api/v1/tenants", token: bad)
                #expect(response.status == .unauthorized, "token \(bad.prefix(20))… should be refused")
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            let basic = try await client.send(.get, "/api/v1/tenants", headers: [.authorization: "Basic abc"])
            #expect(basic.status == .unauthorized)
        }
    }

    private func claims() -> AdminClaimsForTest {
        AdminClaimsForTest(sub: .init(value: "x"), exp: .init(value: Date().addingTimeInterval(3600)), iss: .init(value: "switchboard"), role: "super_admin")
    }

    private func base64URLDecode(_ text: String) -> Data {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64) ?? Data()
    }

    @Test("rotating to EdDSA and ES256 keeps old tokens valid; retiring a key ends them", arguments: TestBackend.all)
    func keyRotation(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let services = world.services
            let user = try #require(try await services.stores.users.find(email: TestWorld.adminEmail))
            let oldToken = world.adminToken
            let oldKid = try #require(try await services.stores.signingKeys.active().first?.kid)
            for algorithm in [SigningKey.Algorithm.eddsa, .es256] {
                try await services.stores.signingKeys.add(AdminTokenService.generateKey(algorithm))
            }
            // A fresh service instance sees the newest key as current (ES256) and still verifies the old token.
            let fresh = AdminTokenService(store: services.stores.signingKeys, lifetime: 3600)
            try await fresh.prepare()
            let newToken = try await fresh.issue(for: user).token
            let header = String(decoding: base64URLDecode(String(newToken.split(separator: ".")[0])), as: UTF8.self)
            #expect(header.contains(#""alg":"ES256""#))
            // The running app learns of the new key on first sight of its kid (re-read at most once a second).
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await client.send(.get, "/api/v1/auth/me", token: newToken).status == .ok)
            #expect(try await client.send(.get, "/api/v1/auth/me", token: oldToken).status == .ok)

            try await services.stores.signingKeys.retire(kid: oldKid)
            let afterRetire = AdminTokenService(store: services.stores.signingKeys, lifetime: 3600)
            try await afterRetire.prepare()
            #expect(await afterRetire.owns(kid: oldKid) == false)
        }
    }

    @Test("disabling a user ends their tokens", arguments: TestBackend.all)
    func disabledUser(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let created = try await client.send(
                .post, "/api/v1/users", token: world.adminToken,
                json: #"{"email":"ops@alpha.example","password":"long enough password","role":"tenant_admin","tenant":"alpha"}"#)
            #expect(created.status == .created)
            let id = try #require(created.object["id"] as? String)
            let login = try await client.send(
                .post, "/api/v1/auth/login", json: #"{"email":"ops@alpha.example","password":"long enough password"}"#)
            let token = try #require(login.object["token"] as? String)
            #expect(try await client.send(.get, "/api/v1/tenants/alpha", token: token).status == .ok)
            #expect(try await client.send(.post, "/api/v1/users/\(id)/disable", token: world.adminToken).status == .ok)
            #expect(try await client.send(.get, "/api/v1/tenants/alpha", token: token).status == .unauthorized)
        }
    }

    @Test("API tokens: read scope cannot write; revoked tokens stop", arguments: TestBackend.all)
    func apiTokenScopes(backend: TestBackend) async throws {
        try await TestSupport.withApp(backend) { client, world in
            let issued = try await client.send(
                .post, "/api/v1/tenants/alpha/tokens", token: world.adminToken, json: #"{"name":"reporting","scope":"read"}"#)
            #expect(issued.status == .created)
            let readToken = try #require(issued.object["token"] as? String)
            let id = try #require(issued.object["id"] as? String)
            #expect(try await client.send(.get, "/api/v1/tenants/alpha/integrations", token: readToken).status == .ok)
            let write = try await client.send(
                .put, "/api/v1/tenants/alpha/integrations/asterisk", token: readToken, json: #"{"settings":{}}"#)
            #expect(write.status == .forbidden)
            #expect(write.errorCode == "insufficient_scope")

            // Listing tokens never shows the tokens themselves.
            let listed = try await client.send(.get, "/api/v1/tenants/alpha/tokens", token: world.adminToken)
            #expect(!listed.text.contains(readToken))

            #expect(try await client.send(.delete, "/api/v1/tenants/alpha/tokens/\(id)", token: world.adminToken).status == .noContent)
            #expect(try await client.send(.get, "/api/v1/tenants/alpha", token: readToken).status == .unauthorized)
            // Tenant tokens cannot manage tokens.
            #expect(try await client.send(.get, "/api/v1/tenants/alpha/tokens", token: world.tenantA.apiTokenPlaintext).status == .forbidden)
        }
    }

    @Test("external HS256 JWTs (Supabase style) map to a tenant by claim")
    func externalJWT() async throws {
        let secret = "supabase-jwt-secret-at-least-32-chars!!"
        let settings = ServerSettings(
            bcryptCost: 4, externalJWT: ExternalJWTSettings(hmacSecret: secret, tenantClaim: "app_metadata.tenant", audience: "authenticated"))
        try await TestSupport.withApp(.sqlite, settings: settings) { client, world in
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            func token(tenant: String, audience: String = "authenticated", expiresIn: TimeInterval = 3600) async throws -> String {
                try await keys.sign(
                    ExternalPayloadForTest(
                        sub: "user-1", aud: audience, exp: Date().addingTimeInterval(expiresIn).timeIntervalSince1970,
                        appMetadata: ["tenant": tenant]))
            }
            let alpha = try await token(tenant: "alpha")
            #expect(try await client.send(.get, "/api/v1/tenants/alpha/integrations", token: alpha).status == .ok)
            #expect(try await client.send(.get, "/api/v1/tenants/bravo/integrations", token: alpha).status == .notFound)
            #expect(try await client.send(.get, "/api/v1/tenants", token: alpha).status == .ok)
            #expect(try await client.send(.post, "/api/v1/tenants", token: alpha, json: #"{"slug":"x1","name":"x"}"#).status == .forbidden)
            let wrongAudience = try await token(tenant: "alpha", audience: "anon")
            #expect(try await client.send(.get, "/api/v1/tenants/alpha", token: wrongAudience).status == .unauthorized)
            let expired = try await token(tenant: "alpha", expiresIn: -10)
            #expect(try await client.send(.get, "/api/v1/tenants/alpha", token: expired).status == .unauthorized)
        }
    }
}

struct AdminClaimsForTest: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iss: IssuerClaim
    var role: String
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

struct ExternalPayloadForTest: JWTPayload {
    var sub: String
    var aud: String
    var exp: Double
    var appMetadata: [String: String]
    enum CodingKeys: String, CodingKey { case sub, aud, exp, appMetadata = "app_metadata" }
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
