import Analytics
import Configuration
import Foundation
import Logging
import Server
import Storage
import SystemPackage
import SwitchboardCore
import Synchronization

/// Resolved configuration for one command run: flags over environment over config file over defaults.
struct Runtime {
    let config: ConfigReader
    let dataDir: String
    let location: DatabaseLocation
    let logger: Logger
    /// The language model for chart questions, from `OPENAI_BASE_URL` / `OPENAI_API_KEY` / `OPENAI_MODEL`.
    var llm: LLMSettings?

    /// Keys whose values are secrets (redacted in configuration access logs).
    static let secretKeys: Set<String> = [
        "SWITCHBOARD_SECRET_KEY", "SWITCHBOARD_SECRET_KEY_PREVIOUS", "SWITCHBOARD_OPS_TOKEN",
        "SWITCHBOARD_EXTERNAL_JWT_SECRET", "DATABASE_URL", "OPENAI_API_KEY",
    ]

    static func make(
        storage: StorageOptions, serve: ServeOptions? = nil, defaultLogLevel: Logger.Level = .info,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> Runtime {
        var flags: [AbsoluteConfigKey: ConfigValue] = [:]
        func put(_ key: String, _ value: String?, secret: Bool = false) {
            if let value { flags[AbsoluteConfigKey([key])] = ConfigValue(.string(value), isSecret: secret) }
        }
        func put(_ key: String, _ value: Int?) {
            if let value { flags[AbsoluteConfigKey([key])] = ConfigValue(.int(value), isSecret: false) }
        }
        put("data_dir", storage.dataDir)
        put("database_url", storage.databaseURL, secret: true)
        put("log_level", storage.logLevel)
        put("log_format", storage.logFormat)
        if let serve {
            put("host", serve.host)
            put("port", serve.port)
            put("max_body_bytes", serve.maxBodyBytes)
            put("bcrypt_cost", serve.bcryptCost)
            put("admin_token_hours", serve.adminTokenHours)
            put("workers", serve.workers)
            put("tenant_concurrency", serve.tenantConcurrency)
            put("job_lease_seconds", serve.jobLeaseSeconds)
            put("external_jwks_url", serve.externalJwksURL)
            put("external_jwt_tenant_claim", serve.externalJwtTenantClaim)
            put("external_jwt_issuer", serve.externalJwtIssuer)
            put("external_jwt_audience", serve.externalJwtAudience)
        }
        let env = EnvironmentVariablesProvider(
            environmentVariables: environment, secretsSpecifier: .specific(secretKeys))
        // Every setting is SWITCHBOARD_<KEY> in the environment, except the conventional DATABASE_URL.
        let environmentProvider = env.mapKeys { key in
            key.components == ["database_url"] ? key : AbsoluteConfigKey(["switchboard"] + key.components)
        }
        var providers: [any ConfigProvider] = [InMemoryProvider(name: "flags", values: flags), environmentProvider]
        if let file = storage.config ?? environment["SWITCHBOARD_CONFIG"] {
            guard FileManager.default.fileExists(atPath: file) else {
                throw SwitchboardError.invalid("config", "config file \(file) does not exist")
            }
            providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
        }
        let config = ConfigReader(providers: providers)

        let levelName = config.string(forKey: "log_level") ?? defaultLogLevel.rawValue
        guard let level = Logger.Level(rawValue: levelName) else {
            throw SwitchboardError.invalid("log_level", "unknown log level '\(levelName)'")
        }
        let format = config.string(forKey: "log_format", default: "json")
        guard ["json", "text"].contains(format) else {
            throw SwitchboardError.invalid("log_format", "log format must be json or text")
        }
        LoggingBootstrap.once(format: format)
        var logger = Logger(label: "switchboard")
        logger.logLevel = level

        let dataDir = config.string(forKey: "data_dir", default: "./data")
        let location = try DatabaseLocation.resolve(databaseURL: config.string(forKey: "database_url"), dataDir: dataDir)
        return Runtime(config: config, dataDir: dataDir, location: location, logger: logger, llm: try LLMSettings.fromEnvironment(environment))
    }

    /// Opens the database, applies pending migrations, loads the secret key, and runs `body`.
    func withDatabase<R: Sendable>(_ body: @Sendable (Database, SecretBox) async throws -> R) async throws -> R {
        let secrets = try SecretBox.load(
            base64Key: config.string(forKey: "secret_key", isSecret: true),
            previous: (config.string(forKey: "secret_key_previous", isSecret: true) ?? "").split(separator: ",").map(String.init),
            dataDir: dataDir, logger: logger)
        let logger = self.logger
        logger.debug("opening database", metadata: ["database": "\(location)"])
        return try await Database.withDatabase(location, logger: logger) { database in
            try await Migrator().migrate(database, logger: logger)
            return try await body(database, secrets)
        }
    }

    /// Whether this process takes part in keeping the tenants' AMI connections (`SWITCHBOARD_PBX_CONNECTIONS`,
    /// default true). Several `serve` instances on one PostgreSQL share the PBXs: one connection per tenant.
    func pbxConnections() -> Bool {
        config.bool(forKey: "pbx_connections", default: true)
    }

    /// How this process runs jobs, validated.
    func workerSettings() throws -> WorkerSettings {
        let count = config.int(forKey: "workers", default: 4)
        guard (0...256).contains(count) else { throw SwitchboardError.invalid("workers", "workers must be 0–256") }
        let perTenant = config.int(forKey: "tenant_concurrency", default: 4)
        guard (0...256).contains(perTenant) else {
            throw SwitchboardError.invalid("tenant_concurrency", "tenant_concurrency must be 0–256 (0: no cap)")
        }
        let lease = config.int(forKey: "job_lease_seconds", default: 60)
        guard (2...3600).contains(lease) else { throw SwitchboardError.invalid("job_lease_seconds", "job_lease_seconds must be 2–3600") }
        let tick = config.int(forKey: "scheduler_tick_ms", default: 5000)
        guard (100...60_000).contains(tick) else {
            throw SwitchboardError.invalid("scheduler_tick_ms", "scheduler_tick_ms must be 100–60000")
        }
        return WorkerSettings(
            concurrency: count, perTenant: perTenant == 0 ? nil : perTenant, lease: .seconds(lease), schedulerTick: .milliseconds(tick))
    }

    /// The HTTP server settings after validation.
    func serverSettings() throws -> ServerSettings {
        let port = config.int(forKey: "port", default: 8080)
        guard (0...65535).contains(port) else { throw SwitchboardError.invalid("port", "port must be 0–65535") }
        let maxBody = config.int(forKey: "max_body_bytes", default: 1 << 20)
        guard maxBody >= 1024 else { throw SwitchboardError.invalid("max_body_bytes", "must be at least 1024") }
        let cost = config.int(forKey: "bcrypt_cost", default: 12)
        guard (4...31).contains(cost) else { throw SwitchboardError.invalid("bcrypt_cost", "must be 4–31") }
        let hours = config.int(forKey: "admin_token_hours", default: 12)
        guard (1...720).contains(hours) else { throw SwitchboardError.invalid("admin_token_hours", "must be 1–720") }
        let retention = config.int(forKey: "log_retention_days", default: 30)
        guard (1...3650).contains(retention) else { throw SwitchboardError.invalid("log_retention_days", "must be 1–3650") }
        let externalSecret = config.string(forKey: "external_jwt_secret", isSecret: true)
        let jwks = config.string(forKey: "external_jwks_url")
        var external: ExternalJWTSettings?
        if externalSecret?.isEmpty == false || jwks?.isEmpty == false {
            external = ExternalJWTSettings(
                hmacSecret: externalSecret, jwksURL: jwks,
                tenantClaim: config.string(forKey: "external_jwt_tenant_claim", default: "tenant"),
                issuer: config.string(forKey: "external_jwt_issuer"),
                audience: config.string(forKey: "external_jwt_audience"))
        }
        return ServerSettings(
            host: config.string(forKey: "host", default: "127.0.0.1"), port: port, maxBodyBytes: maxBody,
            opsToken: config.string(forKey: "ops_token", isSecret: true), adminTokenLifetime: TimeInterval(hours * 3600),
            bcryptCost: UInt8(cost), externalJWT: external, publicURL: config.string(forKey: "public_url"), logRetentionDays: retention, llm: llm)
    }
}

/// Installs the process-wide log handler exactly once.
enum LoggingBootstrap {
    private static let done = Mutex(false)

    static func once(format: String) {
        done.withLock { done in
            guard !done else { return }
            done = true
            if format == "json" {
                LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: .trace) }
            } else {
                LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
            }
        }
    }
}
