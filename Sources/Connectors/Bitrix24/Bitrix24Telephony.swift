import Foundation
import SwitchboardCore

/// `telephony.externalcall.register`: a call shown to a Bitrix24 user and logged in the CRM.
public struct Bitrix24CallRegistration: Sendable, Equatable {
    /// The Bitrix24 user (from the manager mapping), or else the user's inner phone number (the extension).
    public var userID: Int?
    public var userPhoneInner: String?
    public var phoneNumber: String
    /// 1 outgoing, 2 incoming.
    public var type: Int
    public var startDate: Date
    /// Unique per call: without it a second call between the same numbers within 30 minutes gets the
    /// first one's CALL_ID back (Bitrix24's register dedup), and the two calls collide.
    public var externalCallID: String
    /// The company line the call came in on (`LINE_NUMBER`).
    public var lineNumber: String?
    /// Create a lead when the number is unknown to the CRM.
    public var createLead: Bool
    /// Pop the call card (false for calls registered after they ended).
    public var show: Bool

    public init(
        userID: Int?, userPhoneInner: String?, phoneNumber: String, type: Int, startDate: Date, externalCallID: String, lineNumber: String?,
        createLead: Bool, show: Bool
    ) {
        self.userID = userID
        self.userPhoneInner = userPhoneInner
        self.phoneNumber = phoneNumber
        self.type = type
        self.startDate = startDate
        self.externalCallID = externalCallID
        self.lineNumber = lineNumber
        self.createLead = createLead
        self.show = show
    }

    var params: [String: JSONValue] {
        var params: [String: JSONValue] = [
            "PHONE_NUMBER": .string(phoneNumber), "TYPE": .number(Double(type)),
            "CALL_START_DATE": .string(startDate.ISO8601Format()), "EXTERNAL_CALL_ID": .string(externalCallID),
            "CRM_CREATE": .number(createLead ? 1 : 0), "SHOW": .number(show ? 1 : 0),
        ]
        if let userID { params["USER_ID"] = .number(Double(userID)) } else if let userPhoneInner { params["USER_PHONE_INNER"] = .string(userPhoneInner) }
        if let lineNumber, !lineNumber.isEmpty { params["LINE_NUMBER"] = .string(lineNumber) }
        if createLead { params["CRM_SOURCE"] = "CALL" }
        return params
    }
}

/// What `register` answered: the call's id in Bitrix24 and the CRM record it was bound to.
public struct Bitrix24RegisteredCall: Sendable, Equatable, Codable {
    public var callID: String
    public var crmEntityType: String?
    public var crmEntityID: Int?
    public var createdLeadID: Int?
}

/// `telephony.externalcall.finish`.
public struct Bitrix24CallFinish: Sendable, Equatable {
    public var callID: String
    public var userID: Int?
    public var userPhoneInner: String?
    /// Talk time in seconds.
    public var duration: Int
    /// `200` answered, `304` missed, `486` busy, `603-S` cancelled, `503` unavailable, `OTHER`.
    public var statusCode: String

    public init(callID: String, userID: Int?, userPhoneInner: String?, duration: Int, statusCode: String) {
        self.callID = callID
        self.userID = userID
        self.userPhoneInner = userPhoneInner
        self.duration = duration
        self.statusCode = statusCode
    }
}

extension Bitrix24Client {
    /// Registers a call (`telephony.externalcall.register`; an installed app's context on current portals).
    public func registerCall(_ call: Bitrix24CallRegistration) async throws -> Bitrix24RegisteredCall {
        let result = try await self.call("telephony.externalcall.register", call.params).result.objectValue ?? [:]
        guard let callID = result["CALL_ID"]?.stringValue, !callID.isEmpty else {
            throw Bitrix24Error(status: 200, code: "", message: "telephony.externalcall.register answered without a CALL_ID")
        }
        return Bitrix24RegisteredCall(
            callID: callID, crmEntityType: result["CRM_ENTITY_TYPE"]?.stringValue, crmEntityID: result["CRM_ENTITY_ID"]?.intValue,
            createdLeadID: result["CRM_CREATED_LEAD"]?.intValue)
    }

    /// Ends a registered call with its outcome (`telephony.externalcall.finish`).
    public func finishCall(_ finish: Bitrix24CallFinish) async throws {
        var params: [String: JSONValue] = [
            "CALL_ID": .string(finish.callID), "DURATION": .number(Double(finish.duration)), "STATUS_CODE": .string(finish.statusCode),
        ]
        if let userID = finish.userID { params["USER_ID"] = .number(Double(userID)) } else if let inner = finish.userPhoneInner { params["USER_PHONE_INNER"] = .string(inner) }
        _ = try await call("telephony.externalcall.finish", params)
    }

    /// Attaches the recording by URL (Bitrix24 downloads it; call after `finish`).
    public func attachRecord(callID: String, url: String) async throws -> Int? {
        let filename = URL(string: url)?.lastPathComponent.nilIfEmpty ?? "record.mp3"
        let result = try await call("telephony.externalcall.attachRecord", ["CALL_ID": .string(callID), "RECORD_URL": .string(url), "FILENAME": .string(filename)])
        return result.result.objectValue?["FILE_ID"]?.intValue
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
