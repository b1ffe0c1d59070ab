import Logging
import NIOCore
import PostgresNIO
import SwitchboardCore

extension Transaction {
    /// Whether ``copy(into:schema:columns:rows:)`` is available (PostgreSQL).
    public var canCopy: Bool { postgres != nil }

    /// Streams `rows` into `table` with `COPY … FROM STDIN` (text format): PostgreSQL parses COPY data far
    /// faster than a multi-row `INSERT` with thousands of bound parameters. Values are the columns' text
    /// forms (nil is NULL). PostgreSQL only; `schema` nil means the session's search path (temp tables).
    public func copy(into table: String, schema: String? = nil, columns: [String], rows: [[String?]]) async throws {
        guard let postgres, let logger else {
            throw SwitchboardError(.internal, code: "copy_unsupported", message: "COPY needs PostgreSQL")
        }
        // PostgresNIO quotes the name it is given as one identifier; `schema"."table` makes it a qualified
        // name. Only plain identifiers are accepted, so nothing can break out of the quotes.
        for name in [table] + columns + (schema.map { [$0] } ?? []) where !Self.isPlainIdentifier(name) {
            throw SwitchboardError(.internal, code: "copy_identifier", message: "'\(name)' is not a plain identifier")
        }
        let target = schema.map { "\($0)\".\"\(table)" } ?? table
        try await postgres.copyFrom(table: target, columns: columns, logger: logger) { writer in
            var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
            for row in rows {
                Self.appendCopyLine(row, to: &buffer)
                if buffer.readableBytes >= 1 << 20 {
                    try await writer.write(buffer)
                    buffer.clear()
                }
            }
            if buffer.readableBytes > 0 { try await writer.write(buffer) }
        }
    }

    /// ASCII letters, digits and `_`, at most 63 bytes: a name ``copy(into:schema:columns:rows:)`` accepts.
    public static func isPlainIdentifier(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 63 && name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) || (0x41...0x5A).contains($0) }
    }

    /// One row in COPY's text format: tab-separated, `\N` for NULL, backslash escapes for `\`, tab, LF, CR.
    static func appendCopyLine(_ row: [String?], to buffer: inout ByteBuffer) {
        for (index, value) in row.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
            guard let value else {
                buffer.writeStaticString("\\N")
                continue
            }
            var text = value
            text.withUTF8 { bytes in
                var start = 0
                for (offset, byte) in bytes.enumerated() {
                    let escaped: UInt8? = switch byte {
                    case UInt8(ascii: "\\"): UInt8(ascii: "\\")
                    case 0x09: UInt8(ascii: "t")
                    case 0x0A: UInt8(ascii: "n")
                    case 0x0D: UInt8(ascii: "r")
                    default: nil
                    }
                    guard let escaped else { continue }
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start..<offset]))
                    buffer.writeInteger(UInt8(ascii: "\\"))
                    buffer.writeInteger(escaped)
                    start = offset + 1
                }
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[start...]))
            }
        }
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}
