// swift-tools-version: 6.2
// Switchboard — one self-hosted server between Asterisk, company apps and the CRMs.
// Targets follow ../shared/DESIGN.md; imports point one way, down this list:
//   SwitchboardCore ← Storage ← Jobs ← Connectors/<CRM> ← Access ← Telephony / Mirror / Analytics ← Server ← switchboard
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Switchboard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "switchboard", targets: ["switchboard"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
    ],
    targets: [
        // Domain types, errors, ids, clocks. No I/O, no server or database imports.
        .target(
            name: "SwitchboardCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // One Database over SQLKit (SQLite + PostgreSQL), migrations, repositories, secret encryption.
        .target(
            name: "Storage",
            dependencies: [
                "SwitchboardCore",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Durable job queue on both backends: leases, retries with backoff, dead letters, workers.
        .target(
            name: "Jobs",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // RetailCRM API v5 client: telephony events and call upload, module registration, users, tasks.
        .target(
            name: "RetailCRM",
            dependencies: [
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/Connectors/RetailCRM",
            swiftSettings: swiftSettings
        ),
        // Bitrix24 REST client: webhook and OAuth auth, batch, keyset export, field metadata, events.
        .target(
            name: "Bitrix24",
            dependencies: [
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/Connectors/Bitrix24",
            swiftSettings: swiftSettings
        ),
        // amoCRM / Kommo (API v4): client (HAL pages, 204, problem+json), webhook parsing (the real form-encoded v2 vocabulary, seed 004's JSON).
        .target(
            name: "AmoCRM",
            dependencies: [
                "SwitchboardCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/Connectors/AmoCRM",
            swiftSettings: swiftSettings
        ),
        // How features reach a tenant's CRM: credentials (OAuth tokens refreshed once for all workers),
        // rate limits, circuit breakers and the integration log around the connectors' clients.
        .target(
            name: "Access",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                "Jobs",
                "Bitrix24",
                "RetailCRM",
                "AmoCRM",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The CRM mirror engine: tables from field metadata, full/incremental sync with checkpoints, drift.
        .target(
            name: "Mirror",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                "Jobs",
                "Bitrix24",
                "AmoCRM",
                "Access",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Asterisk Manager Interface: CRLF framing, actions and responses, a reconnecting client.
        .target(
            name: "Asterisk",
            dependencies: [
                "SwitchboardCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/Connectors/Asterisk",
            swiftSettings: swiftSettings
        ),
        // Emulated CRMs for tests and `switchboard demo` (never used against real accounts).
        .target(
            name: "Sandbox",
            dependencies: [
                "SwitchboardCore",
                "RetailCRM",
                "Bitrix24",
                "AmoCRM",
                "Asterisk",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Telephony: AMI framing and client, the call tracker, PBX event intake, dispatch to CRM telephony.
        .target(
            name: "Telephony",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                "Jobs",
                "RetailCRM",
                "Bitrix24",
                "AmoCRM",
                "Access",
                "Asterisk",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Analytics: the data dictionary of a tenant's mirror (questions → guarded SQL → charts follow).
        .target(
            name: "Analytics",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                "Mirror",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // People API write-back (seed 003): the app's people → CRM leads, exactly once, with replies.
        .target(
            name: "People",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                "Jobs",
                "Bitrix24",
                "AmoCRM",
                "Access",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Hummingbird application: routes, auth, ops endpoints, OpenAPI document.
        .target(
            name: "Server",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                "Jobs",
                "Telephony",
                "RetailCRM",
                "Asterisk",
                "Bitrix24",
                "Access",
                "Analytics",
                "Mirror",
                "People",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command-line entry point: serve, migrate, demo, tenant, integration, user, openapi.
        .executableTarget(
            name: "switchboard",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                "Jobs",
                "Telephony",
                "Analytics",
                "Mirror",
                "Access",
                "Bitrix24",
                "Sandbox",
                "Server",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwitchboardTests",
            dependencies: [
                "SwitchboardCore",
                "Storage",
                "Jobs",
                "Telephony",
                "RetailCRM",
                "Asterisk",
                "Bitrix24",
                "AmoCRM",
                "Mirror",
                "Access",
                "Sandbox",
                "Server",
                "switchboard",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            // Recorded CRM and PBX payloads, copied unchanged from the shared fixtures; read by path.
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
