import Foundation
import Hummingbird
import Synchronization
import SwitchboardCore

/// Per-request state: the request id, who is calling, and the tenant a tenant-scoped route resolved.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var requestID: String = ""
    public var identity: Identity?
    public var tenant: Tenant?
    /// Shared with outer middleware, which cannot see changes inner middleware makes to this value type.
    public let observed = ObservedRequest()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
    }

    public var responseEncoder: JSONEncoder { JSONCoding.encoder }
    public var requestDecoder: JSONDecoder { JSONCoding.decoder }

    /// The resolved tenant of a route under `/api/v1/tenants/{tenant}`.
    public func requireTenant() throws -> Tenant {
        guard let tenant else { throw SwitchboardError.notFound("tenant") }
        return tenant
    }

    /// The caller, or 401.
    public func requireIdentity() throws -> Identity {
        guard let identity else { throw SwitchboardError.unauthorized }
        return identity
    }

    /// Passes for signed-in admin users (not API tokens); `what` completes "… are managed by admin users".
    public func requireAdminUser(managing what: String) throws {
        guard try requireIdentity().isAdminUser else { throw SwitchboardError.forbidden("\(what) are managed by admin users") }
    }

    /// The caller if it is a super admin, else 401/403.
    public func requireSuperAdmin() throws -> Identity {
        let identity = try requireIdentity()
        guard identity.isSuperAdmin else { throw SwitchboardError.forbidden("this needs a super admin") }
        return identity
    }
}

/// What inner layers learn about a request that the outer access log and metrics need.
public final class ObservedRequest: Sendable {
    private let slug = Mutex<String?>(nil)

    public var tenantSlug: String? {
        get { slug.withLock { $0 } }
        set { slug.withLock { $0 = newValue } }
    }
}

/// Shared JSON coders: snake_case keys and ISO 8601 dates on the wire.
public enum JSONCoding {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}
