import Crypto
import Foundation
import JWTKit
import Storage
import SwitchboardCore

/// Claims of an admin JWT issued by this installation.
struct AdminClaims: JWTPayload {
    static let issuer = "switchboard"

    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var iss: IssuerClaim
    var role: String
    var tenant: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == Self.issuer else {
            throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "unknown issuer")
        }
    }
}

/// Claims of a CRM account link (RetailCRM's `accountUrl`): read access to one tenant's integration
/// page, revoked by changing the integration's `account_token_id` (re-registering or unregistering).
struct AccountLinkClaims: JWTPayload {
    static let scope = "crm-account"
    /// A read-only dashboard link: `crm` carries the dashboard id, `jti` its share version.
    static let shareScope = "dashboard-share"

    var sub: SubjectClaim
    var jti: IDClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var iss: IssuerClaim
    var scope: String
    var crm: String

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == AdminClaims.issuer, scope == Self.scope || scope == Self.shareScope else {
            throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "not an account link")
        }
    }
}

/// Issues and verifies admin JWTs with the signing keys stored in the database.
///
/// The newest unretired key signs; all unretired keys verify, so rotating (`switchboard auth rotate-key`)
/// never logs anyone out, and retiring a key invalidates exactly the tokens it signed. Instances notice a
/// key added elsewhere when they first see its `kid`.
public actor AdminTokenService {
    private let store: SigningKeyRepository
    private let lifetime: TimeInterval
    private var collection = JWTKeyCollection()
    private var kids: [String: SigningKey.Algorithm] = [:]
    private var currentKid: String?
    private var lastReload: ContinuousClock.Instant?

    public init(store: SigningKeyRepository, lifetime: TimeInterval) {
        self.store = store
        self.lifetime = lifetime
    }

    /// Loads the keys, creating a first HS256 key when the installation has none.
    public func prepare() async throws {
        if try await store.active().isEmpty {
            try await store.add(Self.generateKey(.hs256))
        }
        try await reload()
    }

    /// Makes a new random key of `algorithm`.
    public static func generateKey(_ algorithm: SigningKey.Algorithm) -> SigningKey {
        let material: [UInt8] =
            switch algorithm {
            case .hs256: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            case .eddsa: Array(Curve25519.Signing.PrivateKey().rawRepresentation)
            case .es256: Array(P256.Signing.PrivateKey().rawRepresentation)
            }
        let kid = "\(algorithm.rawValue.lowercased())-\(Identifiers.randomToken(prefix: "", bytes: 6))"
        return SigningKey(kid: kid, algorithm: algorithm, material: material, createdAt: Date.storageNow)
    }

    private func reload() async throws {
        let keys = try await store.active()
        let collection = JWTKeyCollection()
        for key in keys {
            let kid = JWKIdentifier(string: key.kid)
            switch key.algorithm {
            case .hs256:
                await collection.add(hmac: HMACKey(from: key.material), digestAlgorithm: .sha256, kid: kid)
            case .eddsa:
                let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: key.material)
                await collection.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: kid)
            case .es256:
                let privateKey = try P256.Signing.PrivateKey(rawRepresentation: key.material)
                await collection.add(ecdsa: try ES256PrivateKey(backing: privateKey), kid: kid)
            }
        }
        self.collection = collection
        self.kids = Dictionary(keys.map { ($0.kid, $0.algorithm) }, uniquingKeysWith: { first, _ in first })
        self.currentKid = keys.first?.kid
        self.lastReload = .now
    }

    /// Signs a token for `user`.
    public func issue(for user: AdminUser, now: Date = Date()) async throws -> (token: String, expiresAt: Date) {
        let expiresAt = now.addingTimeInterval(lifetime)
        let claims = AdminClaims(
            sub: .init(value: user.id), exp: .init(value: expiresAt), iat: .init(value: now),
            iss: .init(value: AdminClaims.issuer), role: user.role.rawValue, tenant: user.tenantID)
        return (try await sign(claims), expiresAt)
    }

    /// Signs with the newest active key, naming it in `kid`.
    private func sign(_ claims: some JWTPayload) async throws -> String {
        guard let currentKid, let algorithm = kids[currentKid] else {
            throw SwitchboardError(.unavailable, code: "no_signing_key", message: "no active signing key")
        }
        var header = JWTHeader()
        header.alg = algorithm.rawValue
        return try await collection.sign(claims, kid: JWKIdentifier(string: currentKid), header: header)
    }

    /// Signs an account link for a tenant's CRM integration, valid for `lifetime` (RetailCRM's "go to
    /// account" button; the seed asks for a year). `tokenID` is stored with the integration so the link
    /// can be revoked.
    public func issueAccountLink(tenantID: String, crm: String, tokenID: String, lifetime: TimeInterval = 365 * 86_400, now: Date = Date())
        async throws -> String
    {
        try await sign(
            AccountLinkClaims(
                sub: .init(value: tenantID), jti: .init(value: tokenID), exp: .init(value: now.addingTimeInterval(lifetime)), iat: .init(value: now),
                iss: .init(value: AdminClaims.issuer), scope: AccountLinkClaims.scope, crm: crm))
    }

    /// The tenant id, CRM and token id of a valid account link, or nil (bad signature, expired, another kind of token).
    public func verifyAccountLink(_ token: String) async -> (tenantID: String, crm: String, tokenID: String)? {
        guard let header = JWTHeaderPeek.parse(token), let kid = header.kid, await owns(kid: kid),
            kids[kid]?.rawValue == header.alg,
            let claims = try? await collection.verify(token, as: AccountLinkClaims.self), claims.scope == AccountLinkClaims.scope
        else { return nil }
        return (claims.sub.value, claims.crm, claims.jti.value)
    }

    /// Signs a read-only link to a tenant's dashboard, valid for `lifetime`; bumping the dashboard's share
    /// version revokes every link issued before.
    public func issueShareLink(tenantID: String, dashboardID: String, version: Int, lifetime: TimeInterval, now: Date = Date()) async throws -> String {
        try await sign(
            AccountLinkClaims(
                sub: .init(value: tenantID), jti: .init(value: String(version)), exp: .init(value: now.addingTimeInterval(lifetime)), iat: .init(value: now),
                iss: .init(value: AdminClaims.issuer), scope: AccountLinkClaims.shareScope, crm: dashboardID))
    }

    /// The tenant, dashboard and share version of a valid share link, or nil.
    public func verifyShareLink(_ token: String) async -> (tenantID: String, dashboardID: String, version: Int)? {
        guard let header = JWTHeaderPeek.parse(token), let kid = header.kid, await owns(kid: kid),
            kids[kid]?.rawValue == header.alg,
            let claims = try? await collection.verify(token, as: AccountLinkClaims.self), claims.scope == AccountLinkClaims.shareScope,
            let version = Int(claims.jti.value)
        else { return nil }
        return (claims.sub.value, claims.crm, version)
    }

    /// True when `kid` names one of our active keys. Keys are re-read every minute (so a retired key
    /// stops verifying everywhere within a minute) and at most every 10 s when an unknown kid shows up
    /// (at most once a second, so a key added by another instance works almost at once while a flood of
    /// made-up kids costs at most one query a second).
    public func owns(kid: String) async -> Bool {
        let age = lastReload.map { ContinuousClock.now - $0 } ?? .seconds(3600)
        if age > .seconds(60) || (kids[kid] == nil && age >= .seconds(1)) {
            try? await reload()
        }
        return kids[kid] != nil
    }

    /// Verifies signature, algorithm, expiry and issuer; returns the claims.
    func verify(_ token: String, kid: String, algorithm: String) async throws -> AdminClaims {
        guard let expected = kids[kid], expected.rawValue == algorithm else { throw SwitchboardError.unauthorized }
        return try await collection.verify(token, as: AdminClaims.self)
    }
}
