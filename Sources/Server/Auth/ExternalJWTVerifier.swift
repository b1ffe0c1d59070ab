import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import SwitchboardCore

/// The claims of an external JWT, kept whole so the tenant claim can be any dotted path.
struct ExternalClaims: JWTPayload {
    var claims: [String: JSONValue]

    init(from decoder: any Decoder) throws {
        claims = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(claims)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}

    func value(at path: String) -> JSONValue? {
        var current: JSONValue? = .object(claims)
        for part in path.split(separator: ".") { current = current?.objectValue?[String(part)] }
        return current
    }
}

/// Verifies JWTs issued by another system (an HS256 shared secret or a JWKS URL) and maps them to a tenant.
public actor ExternalJWTVerifier {
    private let settings: ExternalJWTSettings
    private let httpClient: HTTPClient
    private var collection = JWTKeyCollection()
    private var jwksFetchedAt: ContinuousClock.Instant?

    public init(settings: ExternalJWTSettings, httpClient: HTTPClient = .shared) {
        self.settings = settings
        self.httpClient = httpClient
    }

    private func prepareKeys(forceJWKS: Bool) async throws {
        if jwksFetchedAt != nil, !forceJWKS { return }
        // A refetch at most every 30 s keeps a flood of unknown kids from hammering the issuer.
        if let jwksFetchedAt, ContinuousClock.now - jwksFetchedAt < .seconds(30) { return }
        let collection = JWTKeyCollection()
        if let secret = settings.hmacSecret, !secret.isEmpty {
            await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        }
        if let url = settings.jwksURL, !url.isEmpty {
            var request = HTTPClientRequest(url: url)
            request.method = .GET
            let response = try await httpClient.execute(request, timeout: .seconds(5))
            guard response.status == .ok else {
                throw SwitchboardError(
                    .unavailable, code: "jwks_unavailable", message: "JWKS URL answered \(response.status.code)")
            }
            let body = try await response.body.collect(upTo: 1 << 20)
            try await collection.add(jwksJSON: String(buffer: body))
        }
        self.collection = collection
        self.jwksFetchedAt = .now
    }

    /// Verifies `token` and returns the identity it maps to, or throws 401.
    public func verify(_ token: String) async throws -> Identity {
        let claims: ExternalClaims
        do {
            try await prepareKeys(forceJWKS: false)
            do {
                claims = try await collection.verify(token, as: ExternalClaims.self)
            } catch {
                guard settings.jwksURL != nil else { throw error }
                try await prepareKeys(forceJWKS: true)  // the issuer may have rotated keys
                claims = try await collection.verify(token, as: ExternalClaims.self)
            }
        } catch {
            throw SwitchboardError.unauthorized
        }
        guard case .number(let exp) = claims.value(at: "exp"), Date(timeIntervalSince1970: exp) > Date() else {
            throw SwitchboardError(.unauthorized, code: "token_expired", message: "the token has expired or has no exp")
        }
        if let issuer = settings.issuer, claims.value(at: "iss")?.stringValue != issuer {
            throw SwitchboardError(.unauthorized, code: "wrong_issuer", message: "the token's issuer is not accepted")
        }
        if let audience = settings.audience {
            let audiences: [String] =
                switch claims.value(at: "aud") {
                case .string(let single): [single]
                case .array(let many): many.compactMap(\.stringValue)
                default: []
                }
            guard audiences.contains(audience) else {
                throw SwitchboardError(.unauthorized, code: "wrong_audience", message: "the token's audience is not accepted")
            }
        }
        guard let tenant = claims.value(at: settings.tenantClaim)?.stringValue, !tenant.isEmpty else {
            throw SwitchboardError(
                .forbidden, code: "no_tenant_claim", message: "the token has no '\(settings.tenantClaim)' claim")
        }
        return .external(subject: claims.value(at: "sub")?.stringValue ?? "unknown", tenantIDOrSlug: tenant)
    }
}
