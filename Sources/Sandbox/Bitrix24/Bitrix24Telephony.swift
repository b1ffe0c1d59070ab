import Bitrix24
import Foundation
import SwitchboardCore

/// `telephony.externalcall.*` and `telephony.externalLine.*` of the Bitrix24 emulator, with the 30-minute
/// register dedup trap and "Call is not found" on a second finish.
extension Bitrix24Emulator {
    /// A call registered with the emulated portal, with everything the PBX side sent.
    public struct ExternalCall: Sendable, Equatable {
        public var callID: String
        /// The parameters of `register`, as strings.
        public var registerParams: [String: String]
        public var registeredAt: Double
        public var userID: Int
        public var phoneNumber: String
        public var type: Int
        public var lineNumber: String
        public var externalCallID: String?
        public var crmEntityType: String?
        public var crmEntityID: Int?
        public var createdLeadID: Int?
        /// The parameters of `finish`, once finished.
        public var finishParams: [String: String]?
        public var statusCode: String?
        /// Attached records: `RECORD_URL` or file name and size; a new attach replaces the old one.
        public var records: [Record] = []
        public var shownTo: [Int] = []
        public var hiddenFrom: [Int] = []
        /// Started by a click in the CRM (`ONEXTERNALCALLSTART`).
        public var clickToCall = false

        public struct Record: Sendable, Equatable {
            public var fileID: Int
            public var url: String?
            public var filename: String?
            public var bytes: Int
        }
    }

    static let dedupWindow = 30.0 * 60
    static let callNotFound = Outcome.fail(400, "", "Call is not found (call should be registered prior to finishing")

    private func flat(_ params: [String: JSONValue]) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in params where key.lowercased() != "auth" {
            out[key.uppercased()] = B24.text(value) ?? value.b24Text
        }
        return out
    }

    private func user(_ p: [String: String]) -> B24User? {
        if let id = p["USER_ID"].flatMap({ Int($0) }) { return B24Catalog.users.first { $0.id == id } }
        if let inner = p["USER_PHONE_INNER"] { return B24Catalog.users.first { $0.inner == inner } }
        return nil
    }

    /// The first contact, company or lead holding this number (digits compared, `8…` read as `7…`).
    func findByPhone(_ phone: String) -> (String, Int)? {
        let wanted = B24.phoneDigits(phone)
        guard wanted.count >= 5 else { return nil }
        for entity in [Bitrix24Entity.contact, .company, .lead] {
            for id in 1...max(maxID(entity), 1) where exists(entity, id) {
                let phones: [JSONValue] = patches[entity]?[id] != nil || id > generatedCount(entity)
                    ? fullRecord(entity, id)["PHONE"]?.b24Array ?? [] : generator.phones(entity, id)
                if phones.contains(where: { B24.phoneDigits($0.objectValue?["VALUE"]?.stringValue ?? "") == wanted }) {
                    return (entity.upper, id)
                }
            }
        }
        return nil
    }

    func register(_ params: [String: JSONValue]) -> Outcome {
        let p = flat(params)
        guard p["USER_ID"] != nil || p["USER_PHONE_INNER"] != nil else {
            return .fail(400, "ERROR_CORE", "USER_ID or USER_PHONE_INNER should be set")
        }
        guard let user = user(p) else { return .fail(400, "ERROR_CORE", "User is not found or is not active") }
        let phone = p["PHONE_NUMBER"] ?? ""
        guard phone.contains(where: \.isNumber), phone.allSatisfy({ $0.isNumber || "+-() ".contains($0) }) else {
            return .fail(400, "ERROR_CORE", "Unsupported phone number format")
        }
        guard let type = p["TYPE"].flatMap({ Int($0) }), (1...5).contains(type) else { return .fail(400, "ERROR_CORE", "Unknown TYPE") }
        let outcome = registerCall(p, user: user, phone: phone, type: type, clickToCall: false)
        return .ok(outcome.response)
    }

    private func registerCall(_ p: [String: String], user: B24User, phone: String, type: Int, clickToCall: Bool) -> (response: JSONValue, callID: String) {
        let now = clock()
        let line = p["LINE_NUMBER"] ?? ""
        let external = p["EXTERNAL_CALL_ID"].flatMap { $0.isEmpty ? nil : $0 }
        // The dedup trap: the same number, type, user and line (and external id) within 30 minutes is the same call.
        if let existing = externalCalls.last(where: {
            $0.phoneNumber == phone && $0.type == type && $0.userID == user.id && $0.lineNumber == line
                && $0.externalCallID == external && now - $0.registeredAt < Self.dedupWindow
        }) {
            return (response(existing), existing.callID)
        }
        var entityType = p["CRM_ENTITY_TYPE"].flatMap { $0.isEmpty ? nil : $0.uppercased() }
        var entityID = p["CRM_ENTITY_ID"].flatMap { Int($0) }
        if entityType == nil || entityID == nil, let found = findByPhone(phone) { (entityType, entityID) = (found.0, found.1) }
        var created: Int?
        if entityID == nil, p["CRM_CREATE"] == "1" {
            let title = "\(phone) - \(type == 1 ? "Исходящий звонок" : "Входящий звонок")"
            let fields: [String: JSONValue] = ["TITLE": .string(title), "SOURCE_ID": .string(p["CRM_SOURCE"] ?? "CALL"),
                                               "ASSIGNED_BY_ID": .string(String(user.id)), "PHONE": [["VALUE": .string(phone), "VALUE_TYPE": "WORK"]]]
            created = try? insert(.lead, fields, userID: user.id).get()
            if let created { (entityType, entityID) = ("LEAD", created) }
        }
        let callID = "externalCall.\(B24.hex(&rng, count: 32)).\(Int(now))"
        var call = ExternalCall(callID: callID, registerParams: p, registeredAt: now, userID: user.id, phoneNumber: phone, type: type,
                                lineNumber: line, externalCallID: external, crmEntityType: entityType, crmEntityID: entityID,
                                createdLeadID: created, clickToCall: clickToCall)
        if p["SHOW"] != "0" { call.shownTo = [user.id] }
        externalCalls.append(call)
        return (response(call), callID)
    }

    private func response(_ call: ExternalCall) -> JSONValue {
        [
            "CALL_ID": .string(call.callID), "CRM_CREATED_LEAD": call.createdLeadID.map { .number(Double($0)) } ?? .null,
            "CRM_CREATED_ENTITIES": .array(call.createdLeadID.map { [["ENTITY_TYPE": "LEAD", "ENTITY_ID": .number(Double($0))]] } ?? []),
            "CRM_ENTITY_TYPE": call.crmEntityType.map(JSONValue.string) ?? .null,
            "CRM_ENTITY_ID": call.crmEntityID.map { .number(Double($0)) } ?? .null,
        ]
    }

    func finish(_ params: [String: JSONValue]) -> Outcome {
        let p = flat(params)
        guard let index = externalCalls.firstIndex(where: { $0.callID == p["CALL_ID"] }), externalCalls[index].finishParams == nil else {
            return Self.callNotFound
        }
        guard p["USER_ID"] != nil || p["USER_PHONE_INNER"] != nil else {
            return .fail(400, "ERROR_CORE", "USER_ID or USER_PHONE_INNER should be set")
        }
        guard let user = user(p) else { return .fail(400, "ERROR_CORE", "User is not found or is not active") }
        let duration = p["DURATION"].flatMap { Int($0) } ?? 0
        let status = p["STATUS_CODE"].flatMap { $0.isEmpty ? nil : $0 } ?? (duration > 0 ? "200" : "304")
        externalCalls[index].finishParams = p
        externalCalls[index].statusCode = status
        nextActivityID += 1
        let call = externalCalls[index]
        return .ok([
            "CALL_ID": .string(call.callID), "EXTERNAL_CALL_ID": call.externalCallID.map(JSONValue.string) ?? .null,
            "PORTAL_USER_ID": .number(Double(user.id)), "PHONE_NUMBER": .string(call.phoneNumber), "PORTAL_NUMBER": .string(call.lineNumber),
            "INCOMING": .string(String(call.type)), "CALL_DURATION": .number(Double(duration)), "CALL_START_DATE": [:],
            "CALL_STATUS": .number(status == "200" ? 1 : 0), "CALL_VOTE": p["VOTE"].flatMap { Double($0) }.map(JSONValue.number) ?? .null,
            "COST": .number(p["COST"].flatMap { Double($0) } ?? 0), "COST_CURRENCY": .string(p["COST_CURRENCY"] ?? ""),
            "CALL_FAILED_CODE": .string(status), "CALL_FAILED_REASON": .string(p["FAILED_REASON"] ?? ""),
            "REST_APP_ID": "1", "REST_APP_NAME": "Switchboard Sandbox", "CRM_ACTIVITY_ID": .number(Double(nextActivityID)),
            "COMMENT": .null, "CRM_ENTITY_TYPE": call.crmEntityType.map(JSONValue.string) ?? .null,
            "CRM_ENTITY_ID": call.crmEntityID.map { .number(Double($0)) } ?? .null, "ID": .number(Double(index + 1)),
        ])
    }

    func attachRecord(_ params: [String: JSONValue]) -> Outcome {
        let p = flat(params)
        // The record belongs to the call's statistics row, which exists only after finish.
        guard let index = externalCalls.firstIndex(where: { $0.callID == p["CALL_ID"] }), externalCalls[index].finishParams != nil else {
            return .fail(400, "", "Call is not found")
        }
        if let url = p["RECORD_URL"], !url.isEmpty {
            nextFileID += 1
            externalCalls[index].records = [.init(fileID: nextFileID, url: url, filename: p["FILENAME"], bytes: 0)]
            return .ok(["FILE_ID": .number(Double(nextFileID))])
        }
        guard let name = p["FILENAME"], !name.isEmpty else { return .fail(400, "", "RECORD_URL or FILENAME should be set") }
        guard name.lowercased().hasSuffix(".mp3") || name.lowercased().hasSuffix(".wav") else {
            return .fail(400, "", "Unsupported file extension (wav and mp3 only)")
        }
        guard let content = p["FILE_CONTENT"], !content.isEmpty else {
            let upload = "\(baseURL)/rest/upload.json?auth=\(B24.hex(&rng, count: 32))&token=\(B24.hex(&rng, count: 16))"
            return .ok(["uploadUrl": .string(upload), "fieldName": "file"])
        }
        guard let data = Data(base64Encoded: content) else { return .fail(400, "", "FILE_CONTENT is not base64") }
        nextFileID += 1
        externalCalls[index].records = [.init(fileID: nextFileID, url: nil, filename: name, bytes: data.count)]
        return .ok(["FILE_ID": .number(Double(nextFileID))])
    }

    func showHide(_ params: [String: JSONValue], show: Bool) -> Outcome {
        guard let index = externalCalls.firstIndex(where: { $0.callID == B24.text(param(params, "CALL_ID")) }) else {
            return .fail(400, "", "Call is not found")
        }
        let raw = param(params, "USER_ID")
        let users = (raw?.b24Array ?? raw?.objectValue.map { Array($0.values) } ?? raw.map { [$0] } ?? []).compactMap(\.intValue)
        guard !users.isEmpty else { return .fail(400, "", "USER_ID should be set") }
        if show { externalCalls[index].shownTo += users } else { externalCalls[index].hiddenFrom += users }
        return .ok(true)
    }

    func lineAdd(_ params: [String: JSONValue]) -> Outcome {
        guard let number = B24.text(param(params, "NUMBER")), !number.isEmpty else { return .fail(400, "", "NUMBER should be set") }
        let name = B24.text(param(params, "NAME")) ?? number
        if let index = externalLines.firstIndex(where: { $0.number == number }) {
            externalLines[index].name = name
            return .ok(["ID": .string(String(index + 1))])
        }
        externalLines.append((number, name))
        return .ok(["ID": .string(String(externalLines.count))])
    }

    func lineGet() -> Outcome {
        .ok(.array(externalLines.map { ["NUMBER": .string($0.number), "NAME": .string($0.name)] }))
    }

    /// A user clicks a phone number in the CRM (test control): the call is registered and `ONEXTERNALCALLSTART`
    /// goes to the handlers bound to it. Returns the `CALL_ID`, or `nil` for an unknown user.
    @discardableResult
    public func startClickToCall(userID: Int, phone: String) async -> String? {
        guard let user = B24Catalog.users.first(where: { $0.id == userID }) else { return nil }
        let line = externalLines.first?.number ?? ""
        let p = ["USER_ID": String(userID), "PHONE_NUMBER": phone, "TYPE": "1", "LINE_NUMBER": line]
        let (_, callID) = registerCall(p, user: user, phone: phone, type: 1, clickToCall: true)
        let call = externalCalls.last { $0.callID == callID }
        let international = "+" + B24.phoneDigits(phone)
        deliver("ONEXTERNALCALLSTART", data: [
            ("data[PHONE_NUMBER]", phone), ("data[PHONE_NUMBER_INTERNATIONAL]", international), ("data[EXTENSION]", user.inner),
            ("data[USER_ID]", String(userID)), ("data[CALL_LIST_ID]", "0"), ("data[LINE_NUMBER]", line), ("data[IS_MOBILE]", "0"),
            ("data[CALL_ID]", callID), ("data[CRM_ENTITY_TYPE]", call?.crmEntityType ?? ""),
            ("data[CRM_ENTITY_ID]", call?.crmEntityID.map(String.init) ?? ""),
        ])
        return callID
    }
}
