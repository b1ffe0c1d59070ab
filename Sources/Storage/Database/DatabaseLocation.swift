import Foundation
import Logging
import NIOCore
import PostgresKit
import PostgresNIO
import SQLKit
import SwitchboardCore

/// Which database backs the control tables.
public enum DatabaseBackend: String, Sendable {
    case sqlite, postgres
}

/// Where the database lives: an embedded SQLite file (the default) or a PostgreSQL server from `DATABASE_URL`.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresURL)

    /// Chooses PostgreSQL when a `DATABASE_URL` is given, else `<dataDir>/switchboard.sqlite`.
    public static func resolve(databaseURL: String?, dataDir: String) throws(SwitchboardError) -> Self {
        if let url = databaseURL?.trimmingCharacters(in: .whitespaces), !url.isEmpty {
            if url.hasPrefix("sqlite:") {
                let path = String(url.dropFirst("sqlite:".count)).replacingOccurrences(of: "//", with: "")
                return .sqlite(path: path)
            }
            return .postgres(try PostgresURL(parsing: url))
        }
        return .sqlite(path: URL(fileURLWithPath: dataDir).appendingPathComponent("switchboard.sqlite").path)
    }

    public var backend: DatabaseBackend {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// Safe to log: the password is masked.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url): url.description
        }
    }
}

/// A parsed `postgres://user:password@host:port/database?sslmode=…` URL.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable { case disable, prefer, require }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// A directory holding the server's Unix socket (`?host=/run/postgresql`), used instead of TCP.
    public var socketDirectory: String?

    public init(
        host: String, port: Int = 5432, username: String, password: String?, database: String,
        tls: TLSMode = .disable, socketDirectory: String? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.socketDirectory = socketDirectory
    }

    public init(parsing string: String) throws(SwitchboardError) {
        guard let components = URLComponents(string: string),
            ["postgres", "postgresql"].contains(components.scheme ?? "")
        else {
            throw .invalid("DATABASE_URL", "expected postgres://user:password@host:5432/database")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard let user = components.user, !user.isEmpty else {
            throw .invalid("DATABASE_URL", "the URL names no user")
        }
        guard !database.isEmpty else { throw .invalid("DATABASE_URL", "the URL names no database") }
        let mode: TLSMode
        switch query["sslmode"] ?? "prefer" {
        case "disable", "allow": mode = .disable
        case "prefer": mode = .prefer
        case "require", "verify-ca", "verify-full": mode = .require
        case let other: throw .invalid("DATABASE_URL", "unsupported sslmode '\(other)'")
        }
        let socket = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        self.init(
            host: components.host ?? "localhost", port: components.port ?? 5432, username: user,
            password: components.password?.removingPercentEncoding, database: database, tls: mode,
            socketDirectory: socket)
    }

    public var description: String {
        let credentials = password == nil ? username : "\(username):***"
        return "postgres://\(credentials)@\(host):\(port)/\(database)"
    }

    /// The same server with another database, for creating per-test or per-tenant databases.
    public func with(database: String) -> Self {
        var copy = self
        copy.database = database
        return copy
    }

    /// Runs `body` on one plain connection (no pool, no retries), closed afterwards: the first failure
    /// comes back as it is — refused, unknown host, wrong password, no such database — within `timeout`.
    public func withSingleConnection<R: Sendable>(
        timeout: Duration = .seconds(10), logger: Logger, _ body: @Sendable (any SQLDatabase) async throws -> R
    ) async throws -> R {
        var configuration: PostgresConnection.Configuration
        if let socketDirectory {
            configuration = .init(unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        } else {
            let tls: PostgresConnection.Configuration.TLS =
                switch self.tls {
                case .disable: .disable
                case .prefer: .prefer(try .init(configuration: .makeClientConfiguration()))
                case .require: .require(try .init(configuration: .makeClientConfiguration()))
                }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.connectTimeout = TimeAmount(timeout)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            let result = try await body(connection.sql(logger: logger))
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    func clientConfiguration() -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketDirectory {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password,
                database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS =
                switch self.tls {
                case .disable: .disable
                case .prefer: .prefer(.makeClientConfiguration())
                case .require: .require(.makeClientConfiguration())
                }
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.maximumConnections = 20
        return configuration
    }
}
