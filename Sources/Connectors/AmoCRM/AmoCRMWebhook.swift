import Foundation
import SwitchboardCore

/// One value of an amoCRM custom field: the text, and for list fields the chosen enum id.
public struct AmoCRMFieldItem: Sendable, Equatable {
    public var value: String
    public var enumID: Int64?

    public init(value: String, enumID: Int64? = nil) {
        self.value = value
        self.enumID = enumID
    }
}

/// A custom field of a record as a webhook carries it (phones and e-mails are `multitext` fields with
/// code `PHONE` / `EMAIL`).
public struct AmoCRMFieldValue: Sendable, Equatable {
    public var fieldID: Int64
    public var name: String?
    public var code: String?
    public var items: [AmoCRMFieldItem]

    public init(fieldID: Int64, name: String? = nil, code: String? = nil, items: [AmoCRMFieldItem]) {
        self.fieldID = fieldID
        self.name = name
        self.code = code
        self.items = items
    }
}

/// One change amoCRM reported: `leads` `status` id 12345, with the record as sent.
public struct AmoCRMWebhookEvent: Sendable, Equatable {
    /// `leads`, `contacts`, `companies`, `customers`.
    public var entity: String
    /// `add`, `update`, `delete`, `restore`, `status`, `responsible`, `note`.
    public var action: String
    public var id: Int64
    /// The record's fields as sent (strings, as PHP forms carry them; JSON numbers in compatibility mode).
    public var record: [String: JSONValue]
    public var statusID: Int64?
    public var oldStatusID: Int64?
    public var pipelineID: Int64?
    /// When amoCRM changed the record (unix seconds: `updated_at`, else the v2 `last_modified`), to drop
    /// a delivery older than what the mirror has.
    public var modifiedAt: Int64?
    public var customFields: [AmoCRMFieldValue]
}

/// A webhook delivery from amoCRM, parsed.
///
/// amoCRM posts `application/x-www-form-urlencoded` bodies with PHP bracket keys in the old v2
/// vocabulary — `leads[status][0][id]=…&leads[status][0][custom_fields][0][values][0][value]=…&account[subdomain]=…`
/// — and signs nothing: the secret in the hook's URL is the only authentication (`shared/docs/crm-apis.md` §2.5).
/// Seed 004's JSON body (`{"leads":{"add":[{"id":…,"custom_fields_values":[…]}]}}`, HMAC in `X-Signature`)
/// is read too, as a compatibility mode for senders built after that document.
public struct AmoCRMWebhook: Sendable, Equatable {
    public var accountID: String?
    public var subdomain: String?
    public var events: [AmoCRMWebhookEvent]
    /// Entities in the body that Switchboard does not mirror (`task`, `unsorted`, `talk`…): accepted, not applied.
    public var ignored: [String]

    public static let entities = ["leads", "contacts", "companies", "customers"]
    public static let actions = ["add", "update", "delete", "restore", "status", "responsible", "note"]
    /// The most records one delivery may carry (amoCRM sends up to a few hundred).
    public static let maxEvents = 1000

    /// Reads amoCRM's real, form-encoded body.
    public static func parse(form body: String) throws(SwitchboardError) -> AmoCRMWebhook {
        try parse(FormURLEncoding.decodeNested(body))
    }

    /// Reads seed 004's JSON body.
    public static func parse(json body: String) throws(SwitchboardError) -> AmoCRMWebhook {
        guard let object = JSONValue(jsonText: body)?.objectValue else { throw .invalid("body", "the body is not a JSON object") }
        return try parse(object)
    }

    static func parse(_ object: [String: JSONValue]) throws(SwitchboardError) -> AmoCRMWebhook {
        let account = object["account"]?.objectValue ?? [:]
        var hook = AmoCRMWebhook(
            accountID: account["id"].flatMap(text), subdomain: account["subdomain"].flatMap(text), events: [], ignored: [])
        for key in object.keys.sorted() where key != "account" {
            guard entities.contains(key) else {
                hook.ignored.append(key)
                continue
            }
            guard let byAction = object[key]?.objectValue else { throw .invalid(key, "\(key) must hold actions such as \(key)[add][0][id]") }
            for action in byAction.keys.sorted() {
                guard actions.contains(action) else {
                    throw .invalid("\(key)[\(action)]", "unknown action '\(action)'; amoCRM sends \(actions.joined(separator: ", "))")
                }
                for (index, item) in members(byAction[action]!).enumerated() {
                    let path = "\(key)[\(action)][\(index)]"
                    guard let record = item.objectValue else { throw .invalid(path, "\(path) must be a record") }
                    hook.events.append(try event(entity: key, action: action, record: record, path: path))
                    guard hook.events.count <= maxEvents else { throw .invalid("body", "more than \(maxEvents) records in one delivery") }
                }
            }
        }
        return hook
    }

    static func event(entity: String, action: String, record: [String: JSONValue], path: String) throws(SwitchboardError) -> AmoCRMWebhookEvent {
        guard let id = record["id"].flatMap(integer), id > 0 else { throw .invalid("\(path)[id]", "\(path)[id] must be a positive record id") }
        var fields: [AmoCRMFieldValue] = []
        // v2 form: custom_fields[i][id|name|code|values][j][value|enum] (a date as values[j] alone);
        // v4 JSON: custom_fields_values[i][field_id|field_name|field_code|values][j][value|enum_id].
        for (index, raw) in members(record["custom_fields"] ?? record["custom_fields_values"] ?? .null).enumerated() {
            let fieldPath = "\(path)[custom_fields][\(index)]"
            guard let field = raw.objectValue, let fieldID = (field["id"] ?? field["field_id"]).flatMap(integer) else {
                throw .invalid("\(fieldPath)[id]", "\(fieldPath) must have a numeric id")
            }
            let items: [AmoCRMFieldItem] = members(field["values"] ?? .null).compactMap { value in
                if let object = value.objectValue {
                    guard let text = object["value"].flatMap(text) else { return nil }
                    return AmoCRMFieldItem(value: text, enumID: (object["enum"] ?? object["enum_id"]).flatMap(integer))
                }
                return text(value).map { AmoCRMFieldItem(value: $0) }
            }
            fields.append(AmoCRMFieldValue(
                fieldID: fieldID, name: (field["name"] ?? field["field_name"]).flatMap(text), code: (field["code"] ?? field["field_code"]).flatMap(text),
                items: items))
        }
        return AmoCRMWebhookEvent(
            entity: entity, action: action, id: id, record: record, statusID: record["status_id"].flatMap(integer),
            oldStatusID: record["old_status_id"].flatMap(integer), pipelineID: record["pipeline_id"].flatMap(integer),
            modifiedAt: (record["updated_at"] ?? record["last_modified"]).flatMap(integer), customFields: fields)
    }

    /// Seed 004's signature: `X-Signature` = hex HMAC-SHA256 of the raw body with the shared secret
    /// (compared in constant time). Real amoCRM sends none.
    public static func seedSignatureValid(body: String, header: String?, secret: String) -> Bool {
        guard let header, !secret.isEmpty else { return false }
        let given = header.lowercased().hasPrefix("sha256=") ? String(header.dropFirst(7)) : header
        return Identifiers.constantTimeEquals(Identifiers.hmacSHA256Hex(body, key: secret), given.lowercased())
    }

    /// Seed 004's literal scheme: `X-Signature` = hex HMAC-SHA256 of `"{X-Client-UUID}|{X-Account-ID}"` with the
    /// integration's client secret. It does not cover the body (a captured signature can be replayed with
    /// another body), so the body signature above is preferred; this one is accepted for senders built to the seed.
    public static func seedHeaderSignatureValid(clientUUID: String?, accountID: String?, header: String?, secret: String) -> Bool {
        guard let clientUUID, let accountID, !clientUUID.isEmpty, !accountID.isEmpty else { return false }
        return seedSignatureValid(body: "\(clientUUID)|\(accountID)", header: header, secret: secret)
    }

    /// A level of the tree as a list: PHP arrays come as JSON arrays or, when sparse, as objects keyed by index.
    static func members(_ value: JSONValue) -> [JSONValue] {
        switch value {
        case .array(let items): items
        case .object(let members): members.keys.sorted { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }.map { members[$0]! }
        default: []
        }
    }

    /// Text of a scalar; a JSON flag (compatibility mode) as PHP would print it.
    static func text(_ value: JSONValue) -> String? {
        if case .bool(let flag) = value { return flag ? "1" : "0" }
        return value.scalarText
    }

    static func integer(_ value: JSONValue) -> Int64? { value.intValue.map(Int64.init) }
}
