import Analytics
import Foundation

/// Everything the HTTP server needs to know from configuration, already validated.
public struct ServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Largest request body accepted, in bytes; larger bodies get 413.
    public var maxBodyBytes: Int
    /// When set, `/stats` and `/metrics` require `Authorization: Bearer <opsToken>` (or an admin JWT).
    public var opsToken: String?
    /// Lifetime of admin JWTs issued by `POST /api/v1/auth/login`.
    public var adminTokenLifetime: TimeInterval
    /// bcrypt cost for admin passwords (4–31; each step doubles the work).
    public var bcryptCost: UInt8
    /// Optional acceptance of JWTs issued elsewhere (seed 001 used Supabase).
    public var externalJWT: ExternalJWTSettings?
    /// This server as CRMs reach it (`SWITCHBOARD_PUBLIC_URL`), the default for callback URLs such as
    /// RetailCRM's `makeCallUrl`; a tenant's integration may set its own `public_url`.
    public var publicURL: String?
    /// Days integration log entries are kept (`SWITCHBOARD_LOG_RETENTION_DAYS`, default 30).
    public var logRetentionDays: Int
    /// The language model for chart questions (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `OPENAI_MODEL`); nil
    /// leaves them to the built-in planner.
    public var llm: LLMSettings?

    public init(
        host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 1 << 20, opsToken: String? = nil,
        adminTokenLifetime: TimeInterval = 12 * 3600, bcryptCost: UInt8 = 12, externalJWT: ExternalJWTSettings? = nil,
        publicURL: String? = nil, logRetentionDays: Int = 30, llm: LLMSettings? = nil
    ) {
        self.llm = llm
        self.publicURL = publicURL
        self.logRetentionDays = logRetentionDays
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.opsToken = opsToken
        self.adminTokenLifetime = adminTokenLifetime
        self.bcryptCost = bcryptCost
        self.externalJWT = externalJWT
    }
}

/// How externally issued JWTs are verified and mapped to a tenant.
public struct ExternalJWTSettings: Sendable {
    /// Shared HS256 secret (Supabase's `JWT_SECRET`).
    public var hmacSecret: String?
    /// A JWKS document URL for asymmetric issuers.
    public var jwksURL: String?
    /// Dotted path of the claim holding the tenant id or slug, e.g. `tenant` or `app_metadata.tenant`.
    public var tenantClaim: String
    /// When set, the `iss` claim must equal it.
    public var issuer: String?
    /// When set, the `aud` claim must contain it.
    public var audience: String?

    public init(
        hmacSecret: String? = nil, jwksURL: String? = nil, tenantClaim: String = "tenant", issuer: String? = nil,
        audience: String? = nil
    ) {
        self.hmacSecret = hmacSecret
        self.jwksURL = jwksURL
        self.tenantClaim = tenantClaim
        self.issuer = issuer
        self.audience = audience
    }
}
