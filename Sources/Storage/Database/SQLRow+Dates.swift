import Foundation
import SQLKit

extension SQLRow {
    /// A timestamp column at millisecond precision (SQLite keeps a double, PostgreSQL microseconds;
    /// rounding makes both read back exactly what was written).
    public func date(_ column: String) throws -> Date {
        try decode(column: column, as: Date.self).roundedToMilliseconds
    }

    public func optionalDate(_ column: String) throws -> Date? {
        try decode(column: column, as: Date?.self)?.roundedToMilliseconds
    }
}
