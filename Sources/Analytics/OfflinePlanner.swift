import Foundation
import SwitchboardCore

/// A question turned into SQL and a chart.
public struct PlannedQuestion: Sendable, Codable, Equatable {
    public var title: String
    public var sql: String
    public var chart: ChartSpec
    public var explanation: String
}

/// Planner 2: answers the common CRM questions without any model, in Russian or English, from the mirror
/// catalog's metadata — the table of an entity, its stage, amount, owner, source and creation-date columns
/// are found by what the catalog says they are (field codes, references, types), not by fixed table names.
/// Says plainly when a question is beyond it.
public enum OfflinePlanner {
    public enum Entity: String, Sendable, CaseIterable { case deal, lead, call, contact, company }
    public enum Metric: String, Sendable { case count, sum, average }
    public enum Dimension: String, Sendable { case stage, pipeline, manager, source, day, week, month, outcome, direction, result, weekdayHour = "weekday_hour" }

    /// What the question asks, before it meets the catalog.
    public struct Intent: Sendable, Equatable {
        public var entity: Entity
        public var metric: Metric = .count
        public var dimension: Dimension?
        /// Only calls nobody answered.
        public var missed = false
        /// Rows created on or after this moment.
        public var since: Date?
        /// A second split of the values (won / lost by month): stacked bars.
        public var series: Dimension?
        /// How many deals reached each stage (a funnel), rather than how many sit there now.
        public var conversion = false
        /// The moment the question was asked (the end of the period; the previous period for a KPI's delta).
        public var now = Date()
        /// The tenant's zone (weekdays and hours are read in it).
        public var timeZone: TimeZone = .gmt
    }

    public static func plan(_ question: String, dictionary: DataDictionary, now: Date = Date(), timeZone: TimeZone = .gmt) throws(SwitchboardError) -> PlannedQuestion {
        let intent = try understand(question, now: now, timeZone: timeZone)
        return try build(intent, dictionary: dictionary)
    }

    // MARK: the question

    static func has(_ text: String, _ stems: [String]) -> Bool { stems.contains { text.contains($0) } }

    public static func understand(_ question: String, now: Date = Date(), timeZone: TimeZone = .gmt) throws(SwitchboardError) -> Intent {
        let text = question.lowercased().replacingOccurrences(of: "ё", with: "е")
        let entity: Entity
        if has(text, ["звонк", "звонок", "вызов", "разговор", "call", "talk time"]) { entity = .call }
        else if has(text, ["лид", "lead", "заявк"]) { entity = .lead }
        else if has(text, ["сдел", "deal", "продаж", "sale"]) { entity = .deal }
        else if has(text, ["контакт", "contact", "клиент", "customer"]) { entity = .contact }
        else if has(text, ["компани", "compan"]) { entity = .company }
        // Funnels, conversion, wins and losses, revenue are about deals even when the question does not say so.
        else if has(text, ["конверси", "conversion", "воронк", "funnel", "выигр", "проигр", "won", "lost", "выручк", "revenue"]) { entity = .deal }
        else {
            throw SwitchboardError(
                .unavailable, code: "cannot_answer",
                message: "the built-in planner answers about deals, leads, calls, contacts and companies; name one (e.g. «сделки по стадиям», «calls by outcome»)",
                field: "question")
        }
        var intent = Intent(entity: entity)
        if has(text, ["средн", "average", "avg", "mean"]) { intent.metric = .average }
        else if has(text, ["сумм", "выручк", "бюджет", "оборот", "revenue", "amount", "total", "sum", "длительност", "duration", "talk time"]) { intent.metric = .sum }
        if has(text, ["пропущ", "неотвеч", "без ответа", "missed", "unanswered"]) { intent.missed = true }
        let dimensions: [(Dimension, [String])] = [
            (.manager, ["менеджер", "ответствен", "сотрудник", "manager", "responsible", "owner", "agent"]),
            (.pipeline, ["воронк", "pipeline", "funnel"]),
            (.stage, ["стади", "этап", "статус", "stage", "status"]),
            (.source, ["источник", "канал", "utm", "source", "channel"]),
            // Direction before outcome: «исходящие» also starts like «исход».
            (.direction, ["направлен", "входящ", "исходящ", "direction", "inbound", "outbound"]),
            (.outcome, ["результат", "исход", "outcome", "result"]),
            (.day, ["по дням", "в день", "ежедневн", "by day", "per day", "daily"]),
            (.week, ["по недел", "в неделю", "by week", "per week", "weekly"]),
            (.month, ["по месяц", "в месяц", "помесячн", "by month", "per month", "monthly"]),
        ]
        intent.dimension = dimensions.first { has(text, $0.1) }?.0
        intent.since = since(text, now: now, timeZone: timeZone)
        intent.now = now
        intent.timeZone = timeZone
        intent.conversion = has(text, ["конверси", "conversion", "воронка продаж", "sales funnel", "дошли до", "reached"])
        if has(text, ["день недели", "дням недели", "дни недели", "weekday", "day of week", "тепловая", "heatmap", "по часам", "by hour"]) {
            intent.dimension = .weekdayHour
        } else if has(text, ["выигр", "проигр", "успешн", "проваль", "won", "lost", "win rate", "wins"]) {
            if let time = intent.dimension, [.day, .week, .month].contains(time) { intent.series = .result } else { intent.dimension = .result }
        }
        return intent
    }

    /// The start of the period the question names: «за последние 3 месяца», «last 14 days», «в этом году», «this month», «сегодня».
    static func since(_ text: String, now: Date, timeZone: TimeZone) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let units: [(Calendar.Component, [String])] = [
            (.day, ["дн", "день", "day"]), (.weekOfYear, ["недел", "week"]), (.month, ["месяц", "month"]), (.year, ["год", "лет", "year"]),
        ]
        let words = text.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
        for (index, word) in words.enumerated() where has(word, ["последн", "прошл", "last", "past"]) {
            var count = 1
            var next = index + 1
            if next < words.count, let number = Int(words[next]) { count = number; next += 1 }
            if next < words.count, let unit = units.first(where: { has(words[next], $0.1) }) {
                return calendar.date(byAdding: unit.0, value: -count, to: now)
            }
        }
        let current: [(Calendar.Component, [String])] = [
            (.year, ["этом году", "текущем году", "this year"]), (.month, ["этом месяце", "текущем месяце", "this month"]),
            (.weekOfYear, ["этой неделе", "this week"]), (.day, ["сегодня", "today"]),
        ]
        if let match = current.first(where: { has(text, $0.1) }) { return calendar.dateInterval(of: match.0, for: now)?.start }
        return nil
    }

    // MARK: the SQL

    static func build(_ intent: Intent, dictionary: DataDictionary) throws(SwitchboardError) -> PlannedQuestion {
        let postgres = dictionary.dialect == "postgres"
        let candidates = dictionary.tables.filter { table in
            switch intent.entity {
            case .deal: table.entity == "deal" || (table.entity == "lead" && table.crm == "amocrm")
            case .lead: table.entity == "lead"
            default: table.entity == intent.entity.rawValue
            }
        }
        // The entity's own table first (Bitrix24's deals before amoCRM's leads-as-deals), then the busiest.
        let ranked = candidates.sorted { ($0.entity == intent.entity.rawValue ? 1 : 0, $0.rows) > ($1.entity == intent.entity.rawValue ? 1 : 0, $1.rows) }
        guard let table = ranked.first else {
            throw SwitchboardError(.unavailable, code: "cannot_answer", message: "the mirror has no \(intent.entity.rawValue) table yet: sync the CRM first", field: "question")
        }
        func column(_ test: (DataDictionary.Column) -> Bool) -> DataDictionary.Column? { table.columns.first { $0.role == "field" && test($0) } }
        func code(_ column: DataDictionary.Column) -> String { column.crmField.uppercased() }
        let created = column { ["DATE_CREATE", "CREATED_AT", "STARTED_AT"].contains(code($0)) }
        var measure = "COUNT(*)"
        var measureName = "count"
        if intent.metric != .count {
            let amount = intent.entity == .call ? column { code($0) == "BILLSEC" } : column { ["OPPORTUNITY", "PRICE"].contains(code($0)) }
            guard let amount else {
                throw SwitchboardError(.unavailable, code: "cannot_answer", message: "\(table.name) has no amount to add up", field: "question")
            }
            measure = "\(intent.metric == .sum ? "SUM" : "AVG")(\(quote(amount.name)))"
            measureName = intent.metric == .sum ? "total" : "average"
        }
        var conditions = ["t.deleted_at IS NULL"]
        if let since = intent.since {
            guard let created else { throw SwitchboardError(.unavailable, code: "cannot_answer", message: "\(table.name) has no creation date", field: "question") }
            conditions.append("t.\(quote(created.name)) >= '\(postgres ? postgresTime(since) : sqliteTime(since))'")
        }
        if intent.missed {
            guard let outcome = column({ code($0) == "OUTCOME" }) else {
                throw SwitchboardError(.unavailable, code: "cannot_answer", message: "only calls can be missed", field: "question")
            }
            conditions.append("t.\(quote(outcome.name)) IN ('no_answer', 'abandoned')")
        }
        let measured = "\(measure.replacingOccurrences(of: "(\"", with: "(t.\"")) AS \(measureName)"
        var from = "\(quote(table.name)) t"
        let title = describe(intent, table: table)
        var explanation = "Built-in planner: \(intent.metric.rawValue) of \(table.name)"
            + (intent.dimension.map { " by \($0.rawValue)" } ?? "") + (intent.series.map { " and \($0.rawValue)" } ?? "")
            + (intent.since.map { " since \($0.ISO8601Format())" } ?? "") + (intent.missed ? ", missed calls only" : "") + "; deleted records are left out."
        if intent.conversion {
            return try conversion(intent, table: table, conditions: conditions, title: title, postgres: postgres)
        }
        if intent.dimension == .weekdayHour {
            guard let created else { throw SwitchboardError(.unavailable, code: "cannot_answer", message: "\(table.name) has no date to spread over the week", field: "question") }
            return heatmap(intent, table: table, created: created, measured: measured, measureName: measureName, conditions: conditions, title: title, postgres: postgres, timeZone: intent.timeZone)
        }
        guard let dimension = intent.dimension else {
            // One number; over a period, with the period before it for comparison.
            if let since = intent.since, let created {
                let previous = since.addingTimeInterval(-intent.now.timeIntervalSince(since))
                let column = "t.\(quote(created.name))"
                let start = "'\(postgres ? postgresTime(since) : sqliteTime(since))'"
                let inner = intent.metric == .count ? "1" : measure.replacingOccurrences(of: "(\"", with: "(t.\"").drop { $0 != "(" }.dropFirst().dropLast()
                let function = intent.metric == .average ? "AVG" : (intent.metric == .count ? "COUNT" : "SUM")
                let current = "\(function)(CASE WHEN \(column) >= \(start) THEN \(inner) END) AS \(measureName)"
                let before = "\(function)(CASE WHEN \(column) < \(start) THEN \(inner) END) AS previous"
                var wider = conditions.filter { !$0.hasPrefix("t.\(quote(created.name)) >=") }
                wider.append("\(column) >= '\(postgres ? postgresTime(previous) : sqliteTime(previous))'")
                let sql = "SELECT \(current), \(before) FROM \(from) WHERE \(wider.joined(separator: " AND "))"
                explanation += " Compared with the period of the same length before it."
                return PlannedQuestion(
                    title: title, sql: sql, chart: ChartSpec(type: .kpi, x: nil, y: measureName, title: title, compare: "previous"), explanation: explanation)
            }
            let sql = "SELECT \(measured) FROM \(from) WHERE \(conditions.joined(separator: " AND "))"
            return PlannedQuestion(title: title, sql: sql, chart: ChartSpec(type: .kpi, x: nil, y: measureName, title: title), explanation: explanation)
        }
        let (expression, name, join, kind) = try dimensionSQL(dimension, table: table, dictionary: dictionary, created: created, postgres: postgres)
        if let join { from += " " + join }
        if let series = intent.series {
            let (seriesExpression, seriesName, _, _) = try dimensionSQL(series, table: table, dictionary: dictionary, created: created, postgres: postgres)
            let sql = "SELECT \(expression) AS \(name), \(seriesExpression) AS \(seriesName), \(measured) FROM \(from) WHERE \(conditions.joined(separator: " AND ")) "
                + "GROUP BY \(expression), \(seriesExpression) ORDER BY 1, 2"
            return PlannedQuestion(
                title: title, sql: sql, chart: ChartSpec(type: .stackedBar, x: name, y: measureName, title: title, series: seriesName), explanation: explanation)
        }
        let timeAxis = [.day, .week, .month].contains(dimension)
        let sql = "SELECT \(expression) AS \(name), \(measured) FROM \(from) WHERE \(conditions.joined(separator: " AND ")) GROUP BY \(expression) ORDER BY "
            + (timeAxis ? "1" : "2 DESC")
        return PlannedQuestion(title: title, sql: sql, chart: ChartSpec(type: kind, x: name, y: measureName, title: title), explanation: explanation)
    }

    /// The grouping expression, its name, a join it needs and the chart that suits it.
    static func dimensionSQL(
        _ dimension: Dimension, table: DataDictionary.Table, dictionary: DataDictionary, created: DataDictionary.Column?, postgres: Bool
    ) throws(SwitchboardError) -> (String, String, String?, ChartSpec.Kind) {
        func field(_ test: (DataDictionary.Column) -> Bool) -> DataDictionary.Column? { table.columns.first { $0.role == "field" && test($0) } }
        func labelled(_ column: DataDictionary.Column) -> String {
            table.columns.contains { $0.name == column.name + "_label" } ? "t.\(quote(column.name + "_label"))" : "t.\(quote(column.name))"
        }
        func missing(_ what: String) -> SwitchboardError {
            SwitchboardError(.unavailable, code: "cannot_answer", message: "\(table.name) has no \(what) to group by", field: "question")
        }
        switch dimension {
        case .stage:
            guard let stage = field({ ($0.references?.contains("status") ?? false) && !["SOURCE_ID", "TYPE_ID"].contains($0.crmField.uppercased()) }) else { throw missing("stage") }
            return (labelled(stage), "stage", nil, .bar)
        case .pipeline:
            guard let pipeline = field({ ["CATEGORY_ID", "PIPELINE_ID"].contains($0.crmField.uppercased()) }) else { throw missing("pipeline") }
            return (labelled(pipeline), "pipeline", nil, .bar)
        case .source:
            guard let source = field({ ["SOURCE_ID", "UTM_SOURCE"].contains($0.crmField.uppercased()) }) else { throw missing("source") }
            return (labelled(source), "source", nil, .bar)
        case .result:
            // Won, lost or still open: Bitrix24 keeps the stage's semantics on the deal, amoCRM has the fixed statuses 142 and 143.
            if let semantic = field({ $0.crmField.uppercased() == "STAGE_SEMANTIC_ID" }) {
                return ("CASE t.\(quote(semantic.name)) WHEN 'S' THEN 'Выиграна' WHEN 'F' THEN 'Проиграна' ELSE 'В работе' END", "result", nil, .donut)
            }
            guard let status = field({ $0.crmField == "status_id" }) else { throw missing("won / lost stage") }
            return ("CASE t.\(quote(status.name)) WHEN 142 THEN 'Выиграна' WHEN 143 THEN 'Проиграна' ELSE 'В работе' END", "result", nil, .donut)
        case .weekdayHour:
            throw missing("weekday and hour")
        case .outcome, .direction:
            guard let column = field({ $0.crmField.uppercased() == dimension.rawValue.uppercased() }) else { throw missing(dimension.rawValue) }
            return ("t.\(quote(column.name))", dimension.rawValue, nil, .pie)
        case .manager:
            if let extensionColumn = field({ $0.crmField.uppercased() == "ANSWERED_BY" }) { return ("t.\(quote(extensionColumn.name))", "manager", nil, .bar) }
            guard let owner = field({ $0.references?.hasSuffix("users.id") == true && ["ASSIGNED_BY_ID", "RESPONSIBLE_USER_ID"].contains($0.crmField.uppercased()) }),
                let target = owner.references?.split(separator: ".").first.map(String.init),
                let users = dictionary.tables.first(where: { $0.name == target })
            else { throw missing("responsible manager") }
            let names = users.columns.map(\.name)
            let display = names.contains("last_name")
                ? "TRIM(COALESCE(u.\"name\", '') || ' ' || COALESCE(u.\"last_name\", ''))" : "COALESCE(u.\"name\", CAST(t.\(quote(owner.name)) AS TEXT))"
            return (display, "manager", "LEFT JOIN \(quote(target)) u ON u.\"id\" = t.\(quote(owner.name))", .bar)
        case .day, .week, .month:
            guard let created else { throw missing("creation date") }
            let column = "t.\(quote(created.name))"
            let expression: String
            if postgres {
                expression = "to_char(date_trunc('\(dimension.rawValue)', \(column)), 'YYYY-MM-DD')"
            } else {
                switch dimension {
                case .day: expression = "strftime('%Y-%m-%d', \(column))"
                case .week: expression = "date(\(column), '-6 days', 'weekday 1')"
                default: expression = "strftime('%Y-%m-01', \(column))"
                }
            }
            return (expression, dimension.rawValue, nil, .line)
        }
    }

    static func describe(_ intent: Intent, table: DataDictionary.Table) -> String {
        let what = intent.entity == .call && intent.missed ? "Пропущенные звонки" : table.labelRU
        let metric = intent.metric == .count ? "" : (intent.metric == .sum ? "Сумма: " : "Среднее: ")
        let by: [Dimension: String] = [
            .stage: "по стадиям", .pipeline: "по воронкам", .manager: "по менеджерам", .source: "по источникам", .day: "по дням", .week: "по неделям",
            .month: "по месяцам", .outcome: "по результату", .direction: "по направлению", .result: "выигранные и проигранные",
            .weekdayHour: "по дням недели и часам",
        ]
        let lowered = metric.isEmpty ? what : what.prefix(1).lowercased() + what.dropFirst()
        var title = [metric + lowered, intent.dimension.flatMap { by[$0] }].compactMap { $0 }.joined(separator: " ")
        if intent.conversion { title = "Конверсия по стадиям: " + what.prefix(1).lowercased() + what.dropFirst() }
        if let series = intent.series, let words = by[series] { title += ", " + words }
        if let since = intent.since {
            let formatter = DateFormatter()
            formatter.dateFormat = "dd.MM.yyyy"
            formatter.timeZone = .gmt
            title += " с " + formatter.string(from: since)
        }
        return title
    }

    static func quote(_ name: String) -> String { "\"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"" }

    static func sqliteTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withSpaceBetweenDateAndTime, .withTime, .withColonSeparatorInTime]
        return formatter.string(from: date)
    }

    static func postgresTime(_ date: Date) -> String { date.ISO8601Format() }
}
