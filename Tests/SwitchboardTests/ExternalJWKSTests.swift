import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import Server
import SwitchboardCore
import Testing

@Suite("External JWTs verified through a JWKS URL")
struct ExternalJWKSTests {
    struct Claims: JWTPayload {
        var sub: String
        var tenant: String
        var iss: String
        var exp: Double
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    @Test("ES256 keys are fetched from the JWKS URL; unknown keys and wrong issuers are refused")
    func jwks() async throws {
        let issuerKey = P256.Signing.PrivateKey()
        let raw = issuerKey.publicKey.rawRepresentation
        let jwks = """
            {"keys":[{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"ext-1",
            "x":"\(Identifiers.base64URL(raw.prefix(32)))","y":"\(Identifiers.base64URL(raw.suffix(32)))"}]}
            """
        let router = Router()
        router.get("jwks.json") { _, _ in jwks }
        let issuer = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await issuer.test(.live) { client in
            let port = try #require(client.port)
            let verifier = ExternalJWTVerifier(
                settings: ExternalJWTSettings(
                    jwksURL: "http://127.0.0.1:\(port)/jwks.json", tenantClaim: "tenant", issuer: "https://auth.example"))
            let signer = JWTKeyCollection()
            await signer.add(ecdsa: try ES256PrivateKey(backing: issuerKey), kid: "ext-1")
            let expiry = Date().addingTimeInterval(600).timeIntervalSince1970
            let good = try await signer.sign(Claims(sub: "user-7", tenant: "alpha", iss: "https://auth.example", exp: expiry), kid: "ext-1")
            #expect(try await verifier.verify(good) == .external(subject: "user-7", tenantIDOrSlug: "alpha"))

            let wrongIssuer = try await signer.sign(Claims(sub: "u", tenant: "alpha", iss: "https://evil.example", exp: expiry), kid: "ext-1")
            await #expect(throws: SwitchboardError.self) { _ = try await verifier.verify(wrongIssuer) }

            let stranger = JWTKeyCollection()
            await stranger.add(ecdsa: ES256PrivateKey(), kid: "ext-1")
            let forged = try await stranger.sign(Claims(sub: "u", tenant: "alpha", iss: "https://auth.example", exp: expiry), kid: "ext-1")
            await #expect(throws: SwitchboardError.self) { _ = try await verifier.verify(forged) }
        }
    }
}
