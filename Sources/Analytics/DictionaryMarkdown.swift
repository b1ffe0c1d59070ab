import Foundation

extension DataDictionary {
    /// The dictionary as Markdown: per table its size, joins and a table of columns, enum values below.
    public var markdown: String {
        var out = "# Data dictionary / Словарь данных\n\n"
        out += "Generated \(generatedAt.ISO8601Format()). SQL dialect: **\(dialect == "postgres" ? "PostgreSQL" : "SQLite")**. "
        out += "Rows with `deleted_at` set were deleted in the CRM; count live rows with `WHERE deleted_at IS NULL`. "
        out += "Examples are masked where they are personal data.\n\n"
        out += "| table | rows | what it is |\n| --- | ---: | --- |\n"
        for table in tables {
            out += "| [`\(table.name)`](#\(table.name)) | \(Self.grouped(table.rows)) | \(Self.cell(table.labelRU)) / \(Self.cell(table.labelEN)) |\n"
        }
        for table in tables {
            out += "\n## \(table.name)\n\n"
            out += "\(table.labelRU) / \(table.labelEN) — \(table.crm), \(Self.grouped(table.rows)) live rows"
            out += table.deletedRows > 0 ? ", \(Self.grouped(table.deletedRows)) deleted.\n\n" : ".\n\n"
            if !table.joins.isEmpty {
                out += "Joins:\n\n"
                for join in table.joins {
                    out += "- `\(join.from)` = `\(join.to)`" + (join.condition.map { " AND `\($0)`" } ?? "") + "\n"
                }
                out += "\n"
            }
            out += "| column | SQL type | CRM field | label (RU / EN) | key | empty | examples |\n"
            out += "| --- | --- | --- | --- | --- | ---: | --- |\n"
            for column in table.columns {
                let label = Self.cell(column.labelRU) + (column.labelEN.map { " / " + Self.cell($0) } ?? "") + (column.active ? "" : " *(no longer in the CRM)*")
                let key = column.key.map { $0 == "primary" ? "PK" : "FK → `\(column.references ?? "")`" } ?? ""
                let examples = column.examples.map { "`" + Self.cell($0).replacingOccurrences(of: "`", with: "'") + "`" }.joined(separator: ", ")
                out += "| `\(column.name)` | \(column.sqlType) | \(Self.cell(column.crmField)) | \(label) | \(key) | "
                out += String(format: "%.0f %%", column.nullRatio * 100) + " | \(examples) |\n"
            }
            let enums = table.columns.filter { !$0.enumValues.isEmpty }
            if !enums.isEmpty {
                out += "\nValues:\n\n"
                for column in enums {
                    let shown = column.enumValues.prefix(30).map { "`\(Self.cell($0.value))` \(Self.cell($0.label))" }.joined(separator: ", ")
                    out += "- `\(column.name)`: \(shown)" + (column.enumValues.count > 30 ? ", … (\(column.enumValues.count) in all)" : "") + "\n"
                }
            }
        }
        return out
    }

    /// Text safe inside a Markdown table cell.
    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    /// `12 345`: thousands grouped with a thin space, as both languages read it.
    static func grouped(_ number: Int) -> String {
        let digits = String(abs(number))
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out += "\u{202F}" }
            out.append(character)
        }
        return (number < 0 ? "-" : "") + out
    }
}
