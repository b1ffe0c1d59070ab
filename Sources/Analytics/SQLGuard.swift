import Foundation
import SwitchboardCore

/// The first line of defence for SQL nobody on our side wrote (a model's, an integrator's): one read-only
/// statement over the tenant's mirror, nothing else. It reads the text as SQL tokens — strings, quoted
/// names, comments — so a keyword inside a string is harmless and one outside is seen however it is
/// spelled. Behind it the runner adds the rest: a read-only connection or transaction, a role that can
/// see only the tenant's schema (PostgreSQL), a time limit and a row limit.
public enum SQLGuard {
    /// Which SQL the query is for.
    public enum DatabaseDialect: String, Sendable { case sqlite, postgres }

    /// Statements that change or reach beyond the data, and clauses that lock or write (`SELECT … INTO`).
    static let forbiddenWords: Set<String> = [
        "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "DROP", "ALTER", "CREATE", "TRUNCATE", "GRANT", "REVOKE", "ATTACH",
        "DETACH", "PRAGMA", "VACUUM", "ANALYZE", "REINDEX", "CLUSTER", "COPY", "CALL", "DO", "EXECUTE", "EXEC", "PREPARE", "DEALLOCATE",
        "LISTEN", "NOTIFY", "UNLISTEN", "SET", "RESET", "LOCK", "COMMENT", "SECURITY", "LOAD", "INTO", "SHARE", "BEGIN", "COMMIT",
        "ROLLBACK", "SAVEPOINT", "RELEASE", "CHECKPOINT", "DISCARD", "REFRESH", "IMPORT",
    ]
    /// Functions and catalogs that read files, sleep, reach other databases, change settings or describe
    /// the server: refused by name, and by prefix for whole families (`pg_…`, `sqlite_…`, `lo_…`).
    static let forbiddenNames: Set<String> = [
        "DBLINK", "DBLINK_EXEC", "CURRENT_SETTING", "SET_CONFIG", "QUERY_TO_XML", "TABLE_TO_XML", "CURSOR_TO_XML", "XMLPARSE",
        "LOAD_EXTENSION", "READFILE", "WRITEFILE", "EDIT", "FTS3_TOKENIZER", "ZEROBLOB", "RANDOMBLOB", "INFORMATION_SCHEMA",
        "CURRENT_USER", "SESSION_USER", "CURRENT_DATABASE", "VERSION", "INET_SERVER_ADDR", "TXID_CURRENT", "FILE_FDW",
        "MAIN", "TEMP", "PUBLIC", "SQLITE_MASTER", "SQLITE_SCHEMA", "SQLITE_TEMP_MASTER",
    ]
    static let forbiddenPrefixes = ["PG_", "SQLITE_", "LO_", "DBLINK", "PRAGMA_"]
    /// SQLite cannot be interrupted from here once a statement runs: what could run forever (recursion) or
    /// build a huge value (`printf('%999999999c')`) is refused there; PostgreSQL has `statement_timeout`.
    static let sqliteOnly: Set<String> = ["RECURSIVE", "PRINTF", "FORMAT"]

    /// The statement, checked and without a trailing `;`; a 400 naming `sql` says what is not allowed.
    /// `schema`: the one schema a qualified name may name (the tenant's mirror on PostgreSQL).
    public static func check(_ sql: String, dialect: DatabaseDialect, schema: String? = nil) throws(SwitchboardError) -> String {
        let text = sql.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw refuse("the query is empty") }
        guard text.utf8.count <= 20_000 else { throw refuse("the query is longer than 20,000 bytes") }
        guard !text.unicodeScalars.contains("\0") else { throw refuse("the query contains a NUL byte") }
        let tokens = try tokenize(text)
        guard let first = tokens.first(where: { $0.kind == .word })?.upper, first == "SELECT" || first == "WITH" || first == "VALUES" else {
            throw refuse("only a SELECT (or WITH … SELECT) may run")
        }
        let semicolons = tokens.enumerated().filter { $0.element.kind == .semicolon }
        if let last = semicolons.last, semicolons.count > 1 || last.offset != tokens.count - 1 {
            throw refuse("one statement only: no ';' inside the query")
        }
        for word in tokens where word.kind == .word {
            let name = word.upper
            if !word.quoted, forbiddenWords.contains(name) { throw refuse("'\(word.text)' is not allowed: the query may only read") }
            if !word.quoted, dialect == .sqlite, sqliteOnly.contains(name) { throw refuse("'\(word.text)' is not allowed on SQLite mirrors (it could run without end)") }
            if forbiddenNames.contains(name) || forbiddenPrefixes.contains(where: { name.hasPrefix($0) }) {
                throw refuse("'\(word.text)' is not allowed: it reaches beyond the mirror's tables")
            }
            if name.hasPrefix("MIRROR_"), name != schema?.uppercased() { throw refuse("'\(word.text)' is another tenant's schema") }
        }
        return semicolons.isEmpty ? text : String(text.dropLast()).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func refuse(_ message: String) -> SwitchboardError {
        SwitchboardError.invalid("sql", message, code: "sql_refused")
    }

    struct Token {
        enum Kind { case word, string, number, symbol, semicolon }
        var kind: Kind
        var text: String
        /// A `"quoted"` or `` `quoted` `` name: never a keyword, but still checked as a name.
        var quoted = false
        var upper: String { text.uppercased() }
    }

    /// SQL tokens; comments dropped. Dollar-quoting, `/* */` comments (PostgreSQL nests them, SQLite does
    /// not — the two would read the text differently) and NUL bytes are refused outright.
    static func tokenize(_ text: String) throws(SwitchboardError) -> [Token] {
        let characters = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var index = 0
        func peek(_ offset: Int = 0) -> Unicode.Scalar? { index + offset < characters.count ? characters[index + offset] : nil }
        while index < characters.count {
            let character = characters[index]
            if CharacterSet.whitespacesAndNewlines.contains(character) { index += 1; continue }
            if character == "-", peek(1) == "-" {
                while index < characters.count, characters[index] != "\n" { index += 1 }
                continue
            }
            if character == "/", peek(1) == "*" { throw refuse("block comments (/* */) are not allowed") }
            if character == "$" { throw refuse("'$' (dollar quoting, parameters) is not allowed") }
            if character == "'" {
                var value = ""
                index += 1
                while true {
                    guard let next = peek() else { throw refuse("a string is not closed") }
                    index += 1
                    if next == "'" {
                        if peek() == "'" { value.unicodeScalars.append("'"); index += 1; continue }
                        break
                    }
                    value.unicodeScalars.append(next)
                }
                tokens.append(Token(kind: .string, text: value))
                continue
            }
            if character == "\"" || character == "`" || character == "[" {
                let close: Unicode.Scalar = character == "[" ? "]" : character
                var value = ""
                index += 1
                while true {
                    guard let next = peek() else { throw refuse("a quoted name is not closed") }
                    index += 1
                    if next == close {
                        if close != "]", peek() == close { value.unicodeScalars.append(close); index += 1; continue }
                        break
                    }
                    value.unicodeScalars.append(next)
                }
                tokens.append(Token(kind: .word, text: value, quoted: true))
                continue
            }
            if CharacterSet.letters.contains(character) || character == "_" {
                var value = ""
                while let next = peek(), CharacterSet.alphanumerics.contains(next) || next == "_" { value.unicodeScalars.append(next); index += 1 }
                // PostgreSQL's U&"\0070g_sleep" spells a name in escapes no check could read.
                if value.uppercased() == "U", peek() == "&" { throw refuse("U& escapes are not allowed") }
                tokens.append(Token(kind: .word, text: value))
                continue
            }
            if CharacterSet.decimalDigits.contains(character) {
                var value = ""
                while let next = peek(), CharacterSet.alphanumerics.contains(next) || next == "." { value.unicodeScalars.append(next); index += 1 }
                tokens.append(Token(kind: .number, text: value))
                continue
            }
            if character == ";" { tokens.append(Token(kind: .semicolon, text: ";")); index += 1; continue }
            tokens.append(Token(kind: .symbol, text: String(character)))
            index += 1
        }
        return tokens
    }
}
