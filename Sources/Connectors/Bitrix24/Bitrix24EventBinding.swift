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
