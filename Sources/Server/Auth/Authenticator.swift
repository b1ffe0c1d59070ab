import Foundation
import Storage
import SwitchboardCore

/// Turns a bearer credential into an ``Identity``: tenant API tokens (`sbt_…`), our admin JWTs, or
/// configured external JWTs. Anything else — unknown `kid`, `alg: none`, bad signature, expired — is 401.
public struct Authenticator: Sendable {
    let stores: Stores
    let adminTokens: AdminTokenService
    let external: ExternalJWTVerifier?

    public init(stores: Stores, adminTokens: AdminTokenService, external: ExternalJWTVerifier?) {
        self.stores = stores
        self.adminTokens = adminTokens
        self.external = external
    }

    public func authenticate(bearer: String) async throws -> Identity {
        if bearer.hasPrefix("sbt_") {
            guard let token = try await stores.apiTokens.authenticate(bearer) else {
                throw SwitchboardError.unauthorized
            }
            return .apiToken(tokenID: token.id, tenantID: token.tenantID, scope: token.scope)
        }
        guard let header = JWTHeaderPeek.parse(bearer), let algorithm = header.alg,
            JWTHeaderPeek.acceptedAlgorithms.contains(algorithm)
        else { throw SwitchboardError.unauthorized }
        if let kid = header.kid, await adminTokens.owns(kid: kid) {
            let claims: AdminClaims
            do {
                claims = try await adminTokens.verify(bearer, kid: kid, algorithm: algorithm)
            } catch {
                throw SwitchboardError.unauthorized
            }
            // The user must still exist and be enabled: disabling a user ends their sessions.
            guard let user = try await stores.users.find(id: claims.sub.value), user.disabledAt == nil,
                user.role.rawValue == claims.role
            else { throw SwitchboardError.unauthorized }
            return .admin(userID: user.id, role: user.role, tenantID: user.tenantID)
        }
        guard let external else { throw SwitchboardError.unauthorized }
        return try await external.verify(bearer)
    }
}
