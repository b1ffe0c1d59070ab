import Foundation
import Logging
import Storage
import SwitchboardCore
import Testing

/// The backends every storage test runs on. PostgreSQL is included when installed, and always under
/// CI (where a missing server then fails the run instead of silently skipping).
enum TestBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    static let all: [TestBackend] = PostgresHarness.isAvailable || PostgresHarness.isRequired ? [.sqlite, .postgres] : [.sqlite]

    var testDescription: String { rawValue }
}

enum TestSupport {
    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }()

    static let secrets = try! SecretBox(key: Array(repeating: 7, count: 32))

    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func location(_ backend: TestBackend) async throws -> DatabaseLocation {
        switch backend {
        case .sqlite: .sqlite(path: temporaryDirectory() + "/switchboard.sqlite")
        case .postgres: .postgres(try await PostgresHarness.shared.freshDatabase())
        }
    }

    /// A fresh, migrated database of `backend` for the duration of `body`.
    static func withDatabase<R: Sendable>(
        _ backend: TestBackend, migrate: Bool = true, logger: Logger = TestSupport.logger,
        _ body: @Sendable (Database) async throws -> R
    ) async throws -> R {
        let location = try await location(backend)
        return try await Database.withDatabase(location, logger: logger) { database in
            if migrate { try await Migrator().migrate(database, logger: logger) }
            return try await body(database)
        }
    }
}
