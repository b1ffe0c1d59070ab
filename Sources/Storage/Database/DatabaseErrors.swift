import PostgresNIO
import SQLiteNIO
import SwitchboardCore

extension Database {
    /// True when `error` is a unique-constraint violation on either backend.
    public static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "23505" }
        if let error = error as? SQLiteError {
            return error.reason == .constraint || error.message.contains("UNIQUE constraint failed")
        }
        return false
    }
}

extension Database {
    /// True when `error` says a table does not exist (a database never migrated).
    public static func isMissingTable(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "42P01" }
        if let error = error as? SQLiteError { return error.message.contains("no such table") }
        return false
    }
}

/// Runs a write and turns a unique violation into a 409 naming `field`.
func mapUniqueViolation<R>(field: String, message: String, _ body: () async throws -> R) async throws -> R {
    do {
        return try await body()
    } catch where Database.isUniqueViolation(error) {
        throw SwitchboardError.conflict(message, field: field)
    }
}

extension Database {
    /// A readable one-line description of `error`: PostgreSQL's own message and SQLSTATE instead of
    /// PostgresNIO's deliberately generic text, other errors as they describe themselves.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            // No server message: the connection itself failed; the cause (refused, no such host, TLS) is underneath.
            if error.serverInfo == nil, let underlying = error.underlying {
                return "PostgreSQL \(error.code): \(String(describing: underlying))"
            }
            let message = error.serverInfo?[.message] ?? "\(error.code)"
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return "PostgreSQL: \(message)\(state)"
        }
        return String(describing: error)
    }
}
