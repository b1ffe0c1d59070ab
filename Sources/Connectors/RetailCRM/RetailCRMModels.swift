import Foundation

/// `telephony/call/event`: shows (or closes) the call card for managers in RetailCRM.
public struct RetailCRMCallEvent: Codable, Sendable, Equatable {
    /// The customer's number in E.164.
    public var phone: String
    /// `in`, `out` or `hangup`.
    public var type: String
    /// Extensions of the managers to notify; they win over `userIds` in RetailCRM.
    public var codes: [String]?
    public var userIds: [Int]?
    /// The PBX call id, so RetailCRM links the card to the uploaded call.
    public var callExternalId: String
    /// The company number the customer dialled or was called from.
    public var externalPhone: String?
    /// For `hangup`: `answered`, `busy`, `cancel`, `failed` or `no answered` (RetailCRM's spelling).
    public var hangupStatus: String?

    public init(
        phone: String, type: String, codes: [String]? = nil, userIds: [Int]? = nil, callExternalId: String, externalPhone: String? = nil,
        hangupStatus: String? = nil
    ) {
        self.phone = phone
        self.type = type
        self.codes = codes
        self.userIds = userIds
        self.callExternalId = callExternalId
        self.externalPhone = externalPhone
        self.hangupStatus = hangupStatus
    }

    public static let types: Set<String> = ["in", "out", "hangup"]
    public static let hangupStatuses: Set<String> = ["answered", "busy", "cancel", "failed", "no answered"]
}

/// One call in `telephony/calls/upload` (the call history, with its recording).
public struct RetailCRMCall: Codable, Sendable, Equatable {
    /// `Y-m-d H:i:s` in the account's time zone.
    public var date: String
    public var type: String
    /// Digits without `+`, as RetailCRM stores them.
    public var phone: String
    public var code: String?
    public var userId: Int?
    /// `answered`, `busy`, `failed`, `no answer`, `not allowed` or `unknown`.
    public var result: String
    /// Talk time in seconds.
    public var duration: Int
    public var durationWaiting: Int?
    public var externalId: String
    public var recordUrl: String?
    public var externalPhone: String?

    public init(
        date: String, type: String, phone: String, code: String? = nil, userId: Int? = nil, result: String, duration: Int,
        durationWaiting: Int? = nil, externalId: String, recordUrl: String? = nil, externalPhone: String? = nil
    ) {
        self.date = date
        self.type = type
        self.phone = phone
        self.code = code
        self.userId = userId
        self.result = result
        self.duration = duration
        self.durationWaiting = durationWaiting
        self.externalId = externalId
        self.recordUrl = recordUrl
        self.externalPhone = externalPhone
    }

    public static let results: Set<String> = ["answered", "busy", "failed", "no answer", "not allowed", "unknown"]
    /// RetailCRM takes at most this many calls per upload request.
    public static let maxPerUpload = 50
}

/// The answer to `telephony/calls/upload`: calls RetailCRM already had (by `externalId`) are listed as duplicates.
public struct RetailCRMUploadResult: Codable, Sendable, Equatable {
    public var processedCallsCount: Int?
    public var duplicateCalls: [String]?
}

/// A manager (user) of the RetailCRM account.
public struct RetailCRMUser: Codable, Sendable, Equatable {
    public var id: Int
    public var firstName: String?
    public var lastName: String?
    public var email: String?
    public var active: Bool?
    public var isManager: Bool?
    public var status: String?
    public var online: Bool?

    public init(id: Int, firstName: String? = nil, lastName: String? = nil, email: String? = nil, active: Bool? = true,
                isManager: Bool? = true, status: String? = nil, online: Bool? = nil) {
        self.id = id
        self.firstName = firstName
        self.lastName = lastName
        self.email = email
        self.active = active
        self.isManager = isManager
        self.status = status
        self.online = online
    }

    public var displayName: String {
        let name = [firstName, lastName].compactMap { $0 }.joined(separator: " ")
        return name.isEmpty ? (email ?? "user \(id)") : name
    }
}

/// `telephony/manager`: the customer's responsible manager for a phone number.
public struct RetailCRMResponsibleManager: Codable, Sendable, Equatable {
    public struct Manager: Codable, Sendable, Equatable {
        public var id: Int
        public var firstName: String?
        public var lastName: String?
        /// The manager's extension code in RetailCRM, when set there.
        public var code: String?
    }

    public struct Customer: Codable, Sendable, Equatable {
        public var id: Int?
        public var externalId: String?
    }

    public var manager: Manager?
    public var customer: Customer?
}

/// The module as registered by `integration-modules/{code}/edit`; telephony settings sit under
/// `integrations.telephony`.
public struct RetailCRMIntegrationModule: Codable, Sendable, Equatable {
    public struct Telephony: Codable, Sendable, Equatable {
        public struct AdditionalCode: Codable, Sendable, Equatable {
            public var userId: String
            public var code: String
            public init(userId: String, code: String) {
                self.userId = userId
                self.code = code
            }
        }

        public struct ExternalPhone: Codable, Sendable, Equatable {
            public var siteCode: String
            public var externalPhone: String
            public init(siteCode: String, externalPhone: String) {
                self.siteCode = siteCode
                self.externalPhone = externalPhone
            }
        }

        public var makeCallUrl: String
        public var changeUserStatusUrl: String?
        public var allowEdit: Bool
        public var inputEventSupported: Bool
        public var outputEventSupported: Bool
        public var hangupEventSupported: Bool
        public var additionalCodes: [AdditionalCode]
        public var externalPhones: [ExternalPhone]

        public init(
            makeCallUrl: String, changeUserStatusUrl: String?, additionalCodes: [AdditionalCode], externalPhones: [ExternalPhone] = []
        ) {
            self.makeCallUrl = makeCallUrl
            self.changeUserStatusUrl = changeUserStatusUrl
            self.allowEdit = false
            self.inputEventSupported = true
            self.outputEventSupported = true
            self.hangupEventSupported = true
            self.additionalCodes = additionalCodes
            self.externalPhones = externalPhones
        }
    }

    public struct Integrations: Codable, Sendable, Equatable {
        public var telephony: Telephony
    }

    public var code: String
    public var integrationCode: String
    public var active: Bool
    public var name: String
    /// An SVG image (RetailCRM refuses other formats).
    public var logo: String
    public var clientId: String
    public var baseUrl: String
    public var accountUrl: String
    public var integrations: Integrations

    public init(
        code: String, name: String, logo: String, clientId: String, baseUrl: String, accountUrl: String, telephony: Telephony,
        active: Bool = true
    ) {
        self.code = code
        self.integrationCode = code
        self.active = active
        self.name = name
        self.logo = logo
        self.clientId = clientId
        self.baseUrl = baseUrl
        self.accountUrl = accountUrl
        self.integrations = Integrations(telephony: telephony)
    }
}

/// A task for a manager (`tasks/create`), e.g. "call back the customer who could not get through".
public struct RetailCRMTask: Codable, Sendable, Equatable {
    public var text: String
    public var commentary: String?
    /// `Y-m-d H:i`.
    public var datetime: String?
    public var performerId: Int
    public var phone: String?

    public init(text: String, commentary: String? = nil, datetime: String? = nil, performerId: Int, phone: String? = nil) {
        self.text = text
        self.commentary = commentary
        self.datetime = datetime
        self.performerId = performerId
        self.phone = phone
    }
}
