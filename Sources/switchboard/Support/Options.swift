import ArgumentParser

/// Where data lives and how to log — shared by every command that touches data.
struct StorageOptions: ParsableArguments {
    @Option(help: "Directory for the SQLite database and generated keys. Env SWITCHBOARD_DATA_DIR. Default ./data.")
    var dataDir: String?

    @Option(
        name: .customLong("database-url"),
        help: "PostgreSQL URL (postgres://user:pass@host:5432/db?sslmode=disable). Env DATABASE_URL. Default: SQLite under --data-dir."
    )
    var databaseURL: String?

    @Option(help: "JSON config file with the same keys as the environment (without SWITCHBOARD_, lower case). Env SWITCHBOARD_CONFIG.")
    var config: String?

    @Option(help: "trace, debug, info, notice, warning, error. Env SWITCHBOARD_LOG_LEVEL. Default info (warning for admin commands).")
    var logLevel: String?

    @Option(help: "json or text. Env SWITCHBOARD_LOG_FORMAT. Default json.")
    var logFormat: String?
}

/// HTTP server settings for `serve` and `demo`.
struct ServeOptions: ParsableArguments {
    @Option(help: "Address to bind. Env SWITCHBOARD_HOST. Default 127.0.0.1.")
    var host: String?

    @Option(help: "Port to bind. Env SWITCHBOARD_PORT. Default 8080.")
    var port: Int?

    @Option(help: "Largest accepted request body in bytes. Env SWITCHBOARD_MAX_BODY_BYTES. Default 1048576.")
    var maxBodyBytes: Int?

    @Option(help: "bcrypt cost for admin passwords (4–31). Env SWITCHBOARD_BCRYPT_COST. Default 12.")
    var bcryptCost: Int?

    @Option(help: "Lifetime of admin JWTs in hours. Env SWITCHBOARD_ADMIN_TOKEN_HOURS. Default 12.")
    var adminTokenHours: Int?

    @Option(help: "Job workers run in this process (0: none, e.g. when `switchboard worker` processes do it). Env SWITCHBOARD_WORKERS. Default 4.")
    var workers: Int?

    @Option(help: "Most jobs of one tenant running at once over all processes (0: no cap). Env SWITCHBOARD_TENANT_CONCURRENCY. Default 4.")
    var tenantConcurrency: Int?

    @Option(help: "Seconds a claimed job stays leased without a heartbeat; after a crash its jobs run again this much later. Env SWITCHBOARD_JOB_LEASE_SECONDS. Default 60.")
    var jobLeaseSeconds: Int?

    @Option(help: "Accept external JWTs signed by the keys at this JWKS URL. Env SWITCHBOARD_EXTERNAL_JWKS_URL.")
    var externalJwksURL: String?

    @Option(help: "Dotted claim naming the tenant in external JWTs. Env SWITCHBOARD_EXTERNAL_JWT_TENANT_CLAIM. Default tenant.")
    var externalJwtTenantClaim: String?

    @Option(help: "Required iss of external JWTs. Env SWITCHBOARD_EXTERNAL_JWT_ISSUER.")
    var externalJwtIssuer: String?

    @Option(help: "Required aud of external JWTs. Env SWITCHBOARD_EXTERNAL_JWT_AUDIENCE.")
    var externalJwtAudience: String?
}

/// Settings that are secrets come only from the environment or the config file, never from flags
/// (flags show up in `ps` and shell history).
let secretSettingsHelp = """
    Secrets (environment or config file only):
      SWITCHBOARD_SECRET_KEY            base64 32-byte key sealing stored secrets (default: <data-dir>/secret.key, generated)
      SWITCHBOARD_SECRET_KEY_PREVIOUS   comma-separated older keys that still open existing rows
      SWITCHBOARD_OPS_TOKEN             when set, /stats and /metrics require it as a bearer token
      SWITCHBOARD_EXTERNAL_JWT_SECRET   HS256 secret of an external issuer (e.g. Supabase JWT_SECRET)
    """
