import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore

/// Webhooks as amoCRM sends them: `application/x-www-form-urlencoded`, PHP bracket keys in the old v2
/// vocabulary (`leads[status][0][id]`, `last_modified`, `custom_fields[0][values][0][value]`, a date
/// field's value with no `[value]` key), headers `User-Agent: amoCRM-Webhooks/3.0` and
/// `X-Amocrm-Requestid`, no signature.
extension AmoCRMEmulator {
    func notify(_ entity: String, action: String, row: [String: JSONValue], old: [String: JSONValue]?) {
        let singular = entity == "companies" ? "company" : String(entity.dropLast())
        var actions = [action]
        if entity == "leads", action == "update", let old, old["status_id"] != row["status_id"] || old["pipeline_id"] != row["pipeline_id"] {
            actions.append("status")
        }
        for action in actions {
            let event = "\(action)_\(singular)"
            for hook in webhooks where hook.settings.contains(event) {
                send(Self.form(entity: entity, action: action, row: row, old: old, account: (accountID, subdomain, baseURL)), to: hook.destination)
            }
        }
    }

    /// The v2 form body of one change.
    static func form(entity: String, action: String, row: [String: JSONValue], old: [String: JSONValue]?, account: (Int, String, String)) -> String {
        // Companies travel as contacts of type `company`, as amoCRM's form hooks carry them.
        let prefix = "\(entity == "companies" ? "contacts" : entity)[\(action)][0]"
        var pairs: [(String, String)] = []
        func add(_ key: String, _ value: JSONValue?) {
            guard let text = value?.scalarText else { return }
            pairs.append(("\(prefix)[\(key)]", text))
        }
        add("id", row["id"])
        if entity != "leads" { pairs.append(("\(prefix)[type]", entity == "companies" ? "company" : "contact")) }
        if action == "delete" {
            add("status_id", row["status_id"])
            add("pipeline_id", row["pipeline_id"])
        } else {
            add("name", row["name"])
            add("status_id", row["status_id"])
            if action == "status" { add("old_status_id", old?["status_id"]) }
            add("price", row["price"])
            add("responsible_user_id", row["responsible_user_id"])
            add("last_modified", row["updated_at"])
            add("modified_user_id", row["updated_by"])
            add("created_user_id", row["created_by"])
            add("date_create", row["created_at"])
            add("pipeline_id", row["pipeline_id"])
            add("account_id", row["account_id"])
            add("created_at", row["created_at"])
            add("updated_at", row["updated_at"])
            for (index, field) in (row["custom_fields_values"]?.arrayValue ?? []).enumerated() {
                let object = field.objectValue ?? [:]
                let base = "\(prefix)[custom_fields][\(index)]"
                pairs.append(("\(base)[id]", object["field_id"]?.scalarText ?? ""))
                pairs.append(("\(base)[name]", object["field_name"]?.scalarText ?? ""))
                if let code = object["field_code"]?.stringValue { pairs.append(("\(base)[code]", code)) }
                for (position, value) in (object["values"]?.arrayValue ?? []).enumerated() {
                    let item = value.objectValue ?? [:]
                    if object["field_type"]?.stringValue == "date" {
                        pairs.append(("\(base)[values][\(position)]", item["value"]?.scalarText ?? ""))
                        continue
                    }
                    pairs.append(("\(base)[values][\(position)][value]", item["value"]?.scalarText ?? ""))
                    if let enumID = item["enum_id"]?.scalarText ?? item["enum_code"]?.scalarText { pairs.append(("\(base)[values][\(position)][enum]", enumID)) }
                }
            }
        }
        pairs += [("account[subdomain]", account.1), ("account[id]", String(account.0)), ("account[_links][self]", account.2)]
        return FormURLEncoding.encode(pairs)
    }

    func send(_ body: String, to destination: String) {
        let number = nextDelivery
        nextDelivery += 1
        pendingDeliveries[number] = Task {
            var request = HTTPClientRequest(url: destination)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.headers.add(name: "User-Agent", value: "amoCRM-Webhooks/3.0")
            request.headers.add(name: "X-Amocrm-Requestid", value: UUID().uuidString.lowercased())
            request.body = .bytes(ByteBuffer(string: body))
            var status: Int?
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10)) {
                status = Int(response.status.code)
                _ = try? await response.body.collect(upTo: 1 << 20)
            }
            self.delivered(number, destination: destination, body: body, status: status)
        }
    }

    private func delivered(_ number: Int, destination: String, body: String, status: Int?) {
        pendingDeliveries[number] = nil
        deliveries.append((destination, body, status))
    }

    /// Waits until every webhook delivery started so far has finished (test control).
    public func flushDeliveries() async {
        while let task = pendingDeliveries.values.first { await task.value }
    }

    /// What the account holds and received (the demo's `/sandbox/state`): counts, calls, tasks, popups, webhooks.
    public func sandboxState() -> JSONValue {
        [
            "records": .object(Dictionary(uniqueKeysWithValues: Self.entities.map { ($0, JSONValue.number(Double(count($0)))) })),
            "calls": .array(calls.map(JSONValue.object)), "refused_calls": .array(refusedCalls.map(JSONValue.object)),
            "tasks": .array(tasks.map(JSONValue.object)), "popups": .array(popups.map(JSONValue.object)),
            "webhooks": .array(webhooks.map { ["destination": .string($0.destination.replacingOccurrences(of: #"/[^/]+$"#, with: "/…", options: .regularExpression)), "events": .array($0.settings.sorted().map(JSONValue.string))] }),
            "deliveries": .array(deliveries.suffix(20).map { ["status": $0.status.map { .number(Double($0)) } ?? .null, "body": .string($0.body)] }),
            "requests": .number(Double(requestCount)), "refused_429": .number(Double(rejectedCount)), "busiest_second": .number(Double(busiestSecond)),
            "token_refreshes": .number(Double(refreshCount)),
        ]
    }

    /// Registers a webhook destination directly, as an admin would in the account's settings (demo, tests).
    public func addWebhook(_ destination: String, events: [String] = ["add_lead", "update_lead", "status_lead", "delete_lead", "add_contact", "update_contact", "delete_contact"]) {
        webhooks.removeAll { $0.destination == destination }
        webhooks.append((destination, Set(events)))
    }
}
