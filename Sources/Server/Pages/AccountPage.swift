import Foundation
import Storage
import SwitchboardCore
import Telephony

/// The read-only page behind RetailCRM's "go to account" button, in Russian or English. Every value
/// from the database is HTML-escaped; secrets are never on it.
struct AccountPage {
    enum Language: String { case ru, en }

    let tenant: Tenant
    let integration: Integration
    let managers: [ManagerExtension]
    let calls: [CallRecord]
    let circuit: String
    let language: Language
    /// The link's own token, echoed in the language switch.
    let token: String

    /// `lang=ru|en` wins; else the first of `ru`/`en` in `Accept-Language`; else Russian (the market's language).
    static func language(query: String?, header: String?) -> Language {
        if let query, let chosen = Language(rawValue: query.lowercased()) { return chosen }
        for part in (header ?? "").lowercased().split(separator: ",") {
            let tag = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if tag.hasPrefix("ru") { return .ru }
            if tag.hasPrefix("en") { return .en }
        }
        return .ru
    }

    private func t(_ russian: String, _ english: String) -> String { language == .ru ? russian : english }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    private func outcome(_ value: CallOutcome) -> String {
        switch value {
        case .answered: t("отвечен", "answered")
        case .busy: t("занято", "busy")
        case .noAnswer: t("без ответа", "no answer")
        case .abandoned: t("сброшен клиентом", "abandoned")
        case .failed: t("ошибка", "failed")
        case .unknown: t("неизвестно", "unknown")
        }
    }

    private func direction(_ value: CallDirection) -> String {
        switch value {
        case .inbound: t("входящий", "inbound")
        case .outbound: t("исходящий", "outbound")
        case .internal: t("внутренний", "internal")
        }
    }

    var html: String {
        let e = Self.escape
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: tenant.timeZone) ?? .gmt
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let health =
            switch (integration.enabled, circuit) {
            case (false, _): t("выключена", "disabled")
            case (true, "open"): t("RetailCRM недоступна — звонки копятся и будут доставлены", "RetailCRM is failing — calls are queued and will be delivered")
            default: t("работает", "working")
            }
        var rows = ""
        for manager in managers {
            rows += "<tr><td>\(e(manager.crmUserName ?? manager.crmUserID))</td><td>\(e(manager.crmUserID))</td><td>\(e(manager.extensionNumber))</td></tr>"
        }
        if managers.isEmpty { rows = "<tr><td colspan=3>\(t("Добавочные номера ещё не назначены.", "No extensions assigned yet."))</td></tr>" }
        var callRows = ""
        for record in calls {
            let call = record.call
            callRows += "<tr><td>\(e(formatter.string(from: call.startedAt)))</td><td>\(direction(call.direction))</td>"
                + "<td>\(e(call.customerPhone ?? "—"))</td><td>\(e(call.answeredBy ?? call.extensions.first ?? "—"))</td>"
                + "<td>\(outcome(call.outcome))</td><td>\(call.billsec) \(t("с", "s"))</td></tr>"
        }
        if calls.isEmpty { callRows = "<tr><td colspan=6>\(t("Звонков пока нет.", "No calls yet."))</td></tr>" }
        let other = language == .ru ? "en" : "ru"
        return """
            <!doctype html><html lang="\(language.rawValue)"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Switchboard — \(e(tenant.name))</title>
            <style>
            :root{color-scheme:light dark;--fg:#1d2330;--muted:#667085;--bg:#f7f8fa;--card:#fff;--line:#e4e7ec;--accent:#2457d6}
            @media (prefers-color-scheme:dark){:root{--fg:#e6e8ee;--muted:#98a2b3;--bg:#111318;--card:#1a1d24;--line:#2a2f3a}}
            body{font:15px/1.5 system-ui,sans-serif;margin:0;background:var(--bg);color:var(--fg)}
            main{max-width:960px;margin:0 auto;padding:24px}
            section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 20px;margin:16px 0}
            h1{font-size:22px;margin:0}h2{font-size:17px;margin:0 0 8px}
            table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line)}
            th{color:var(--muted);font-weight:500}.muted{color:var(--muted)}a{color:var(--accent)}
            </style></head><body><main>
            <header><h1>\(e(tenant.name))</h1><p class="muted">Switchboard · RetailCRM · <a href="?token=\(e(token))&amp;lang=\(other)">\(other.uppercased())</a></p></header>
            <section><h2>\(t("Подключение", "Connection"))</h2>
            <p>\(t("Аккаунт", "Account")): \(e(integration.settings["base_url"]?.stringValue ?? "—"))<br>
            \(t("Состояние", "Status")): \(e(health))<br>
            \(t("Модуль", "Module")): \(e(integration.settings["module_code"]?.stringValue ?? RetailCRMModuleRegistration.defaultCode))</p></section>
            <section><h2>\(t("Менеджеры и добавочные номера", "Managers and extensions"))</h2>
            <table><tr><th>\(t("Менеджер", "Manager"))</th><th>ID</th><th>\(t("Добавочный", "Extension"))</th></tr>\(rows)</table></section>
            <section><h2>\(t("Последние звонки", "Latest calls"))</h2>
            <table><tr><th>\(t("Время", "Time"))</th><th>\(t("Направление", "Direction"))</th><th>\(t("Клиент", "Customer"))</th><th>\(t("Сотрудник", "Extension"))</th><th>\(t("Итог", "Outcome"))</th><th>\(t("Разговор", "Talk"))</th></tr>\(callRows)</table></section>
            <p class="muted">\(t("Настройки меняет администратор Switchboard.", "Settings are changed by your Switchboard administrator."))</p>
            </main></body></html>
            """
    }
}
