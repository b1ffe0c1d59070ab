import SwitchboardCore

/// One event handler registered on a portal (`event.get`).
public struct Bitrix24EventBinding: Sendable, Equatable, Codable {
    public var event: String
    public var handler: String
    /// Offline events wait in the portal's queue for `event.offline.get` instead of being pushed.
    public var offline: Bool

    public init(event: String, handler: String, offline: Bool) {
        self.event = event
        self.handler = handler
        self.offline = offline
    }
}

extension Bitrix24Client {
    /// The handlers registered by this app (`event.get`; needs an app's OAuth context).
    public func boundEvents() async throws -> [Bitrix24EventBinding] {
        let answer = try await call("event.get")
        return (answer.result.arrayValue ?? []).compactMap { item in
            guard let object = item.objectValue, let event = object["event"]?.stringValue else { return nil }
            let offline = object["offline"].map { $0 == .number(1) || $0 == .string("1") || $0 == .bool(true) } ?? false
            return Bitrix24EventBinding(event: event.uppercased(), handler: object["handler"]?.stringValue ?? "", offline: offline)
        }
    }

    /// Binds (or with `unbind`, removes) `events` for `handler` in one batch; returns the errors by event.
    public func bind(_ events: [String], handler: String, offline: Bool = false, unbind: Bool = false) async throws -> [String: Bitrix24Error] {
        var errors: [String: Bitrix24Error] = [:]
        for group in events.chunked(into: Self.maxBatchCommands) {
            let commands = group.map { event in
                var params: [String: JSONValue] = ["event": .string(event), "event_type": .string(offline ? "offline" : "online")]
                if !offline || unbind { params["handler"] = .string(handler) }
                return Bitrix24Command(key: event, method: unbind ? "event.unbind" : "event.bind", params: params)
            }
            let answer = try await batch(commands)
            errors.merge(answer.errors) { first, _ in first }
        }
        return errors
    }
}

/// A record of the portal's offline-event queue: which object changed how (the queue keeps only the latest
/// record per object, so 1000 edits arrive as one).
public struct Bitrix24OfflineEvent: Sendable, Equatable {
    public var id: String
    /// `ONCRMDEALUPDATE`…
    public var name: String
    /// `EVENT_DATA[FIELDS][ID]`, when the event names a record.
    public var objectID: Int64?
    public var messageID: String
}

extension Bitrix24Client {
    /// Takes the first offline events (`event.offline.get` with `clear=0`): they stay in the portal's queue,
    /// marked with the returned process id and hidden from other readers, until `clearOfflineEvents`.
    /// Passing an earlier `processID` gets that process's unfinished records again (after a crash).
    public func takeOfflineEvents(processID: String?, limit: Int = 50) async throws -> (processID: String, events: [Bitrix24OfflineEvent]) {
        var params: [String: JSONValue] = ["clear": 0, "limit": .number(Double(limit))]
        if let processID { params["process_id"] = .string(processID) }
        let result = try await call("event.offline.get", params).result.objectValue ?? [:]
        guard let process = result["process_id"]?.stringValue else {
            throw Bitrix24Error(status: 200, code: "", message: "event.offline.get answered without a process_id")
        }
        let events: [Bitrix24OfflineEvent] = (result["events"]?.arrayValue ?? []).compactMap { item in
            guard let object = item.objectValue, let name = object["EVENT_NAME"]?.stringValue else { return nil }
            let objectID = object["EVENT_DATA"]?.objectValue?["FIELDS"]?.objectValue?["ID"]?.intValue.map(Int64.init)
            return Bitrix24OfflineEvent(
                id: object["ID"]?.stringValue ?? object["ID"]?.intValue.map(String.init) ?? "", name: name.uppercased(), objectID: objectID,
                messageID: object["MESSAGE_ID"]?.stringValue ?? "")
        }
        return (process, events)
    }

    /// Removes the records `processID` took from the portal's queue (`event.offline.clear`).
    public func clearOfflineEvents(processID: String) async throws {
        _ = try await call("event.offline.clear", ["process_id": .string(processID)])
    }
}
