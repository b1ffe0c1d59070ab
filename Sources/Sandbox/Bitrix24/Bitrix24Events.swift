import Bitrix24
import AsyncHTTPClient
import Foundation
import NIOCore
import SwitchboardCore

/// Events of the Bitrix24 emulator: `event.bind/unbind/get`, offline events, outgoing webhooks and online
/// deliveries (form-encoded POSTs with PHP bracket keys, fire-and-forget, never retried).
extension Bitrix24Emulator {
    /// A handler bound to an event.
    public struct EventBinding: Sendable, Equatable {
        public var id: Int
        public var event: String
        /// Empty for offline bindings.
        public var handler: String
        public var offline: Bool
        /// Registered in the portal's UI as an outgoing webhook (its events carry no access token).
        public var outgoingWebhook: Bool
        public var applicationToken: String
        /// The user whose rights the app handler's token carries.
        public var userID: Int
    }

    struct OfflineEvent {
        var id: Int
        var event: String
        var objectID: Int
        var time: Double
        var messageID: String
        /// The `event.offline.get` (with `clear=0`) that took the record and has not cleared it yet.
        var processID: String?
    }

    /// One online delivery attempt.
    public struct Delivery: Sendable, Equatable {
        public var event: String
        public var handler: String
        /// The form-encoded body sent.
        public var body: String
        /// The handler's HTTP status, `nil` when it could not be reached.
        public var status: Int?
        public var delivered: Bool { status.map { (200..<300).contains($0) } ?? false }
    }

    static let knownEvents: Set<String> = {
        var events: Set<String> = ["ONEXTERNALCALLSTART", "ONEXTERNALCALLBACKSTART", "ONAPPUNINSTALL", "ONAPPINSTALL"]
        for entity in Bitrix24Entity.allCases { for action in ["ADD", "UPDATE", "DELETE"] { events.insert("ONCRM\(entity.upper)\(action)") } }
        return events
    }()

    /// Registers an outgoing webhook as an admin would in the portal's UI (online events only; test control).
    public func addOutgoingWebhook(handler: String, events: [String], applicationToken: String) {
        for event in events {
            bindings.append(EventBinding(id: nextBindingID, event: event.uppercased(), handler: handler, offline: false,
                                         outgoingWebhook: true, applicationToken: applicationToken, userID: webhookUserID))
            nextBindingID += 1
        }
    }

    func eventBind(_ params: [String: JSONValue], caller: Caller) -> Outcome {
        let event = (B24.text(param(params, "event")) ?? "").uppercased()
        guard Self.knownEvents.contains(event) else { return .fail(400, "", "Event not found") }
        let offline = (B24.text(param(params, "event_type")) ?? "online").lowercased() == "offline"
        let handler = B24.text(param(params, "handler")) ?? ""
        if !offline, !(handler.hasPrefix("http://") || handler.hasPrefix("https://")) {
            return .fail(400, "", "Handler is not valid")
        }
        let user = param(params, "auth_type")?.intValue.flatMap { $0 > 0 ? $0 : nil } ?? caller.userID
        if bindings.contains(where: { $0.event == event && $0.offline == offline && $0.handler == (offline ? "" : handler) && !$0.outgoingWebhook }) {
            return .fail(400, "", "Handler already binded")
        }
        bindings.append(EventBinding(id: nextBindingID, event: event, handler: offline ? "" : handler, offline: offline,
                                     outgoingWebhook: false, applicationToken: applicationToken, userID: user))
        nextBindingID += 1
        return .ok(true)
    }

    func eventUnbind(_ params: [String: JSONValue]) -> Outcome {
        let event = (B24.text(param(params, "event")) ?? "").uppercased()
        let offline = (B24.text(param(params, "event_type")) ?? "online").lowercased() == "offline"
        let handler = B24.text(param(params, "handler"))
        let before = bindings.count
        bindings.removeAll {
            !$0.outgoingWebhook && $0.event == event && $0.offline == offline && (offline || handler == nil || $0.handler == handler)
        }
        return .ok(["count": .number(Double(before - bindings.count))])
    }

    func eventGet() -> Outcome {
        .ok(.array(bindings.filter { !$0.outgoingWebhook }.map {
            ["event": .string($0.event), "handler": .string($0.handler), "auth_type": .string(String($0.userID)),
             "offline": .number($0.offline ? 1 : 0)]
        }))
    }

    /// `event.offline.get`: the first records of the queue. With `clear=1` (the default) they are deleted at
    /// once; with `clear=0` they are marked with the returned `process_id`, hidden from other readers, and
    /// given again to a reader passing that `process_id` until `event.offline.clear` removes them.
    func offlineGet(_ params: [String: JSONValue]) -> Outcome {
        let clear = param(params, "clear").flatMap { $0.boolValue } ?? true
        let limit = min(max(param(params, "limit")?.intValue ?? 50, 1), 1000)
        let given = B24.text(param(params, "process_id")).flatMap { $0.isEmpty ? nil : $0 }
        let processID = given ?? B24.hex(&rng, count: 16)
        let indices = offlineQueue.indices.filter { offlineQueue[$0].processID == nil || offlineQueue[$0].processID == given }.prefix(limit)
        let events: [JSONValue] = indices.map { index in
            let item = offlineQueue[index]
            return ["ID": .string(String(item.id)), "TIMESTAMP_X": .string(B24.iso(item.time)), "EVENT_NAME": .string(item.event),
                    "EVENT_DATA": ["FIELDS": ["ID": .number(Double(item.objectID))]], "EVENT_ADDITIONAL": ["user_id": "1"],
                    "MESSAGE_ID": .string(item.messageID), "ERROR": "0"]
        }
        if clear {
            let taken = Set(indices.map { offlineQueue[$0].id })
            offlineQueue.removeAll { taken.contains($0.id) }
        } else {
            for index in indices { offlineQueue[index].processID = processID }
        }
        return .ok(["events": .array(events), "process_id": .string(processID)])
    }

    /// `event.offline.clear`: removes the records a process took, all of them or those named by `id` / `message_id`.
    func offlineClear(_ params: [String: JSONValue]) -> Outcome {
        guard let processID = B24.text(param(params, "process_id")), !processID.isEmpty else {
            return .fail(400, "", "process_id should be set")
        }
        func list(_ name: String) -> Set<String>? {
            guard let value = param(params, name) else { return nil }
            let items = value.b24Array ?? value.objectValue.map { Array($0.values) } ?? [value]
            return Set(items.compactMap { B24.text($0) })
        }
        let ids = list("id"), messages = ids == nil ? list("message_id") : nil
        offlineQueue.removeAll { item in
            guard item.processID == processID else { return false }
            if let ids { return ids.contains(String(item.id)) }
            if let messages { return messages.contains(item.messageID) }
            return true
        }
        return .ok(true)
    }

    /// Offline records waiting in the queue, taken or not (test inspection).
    public var offlineQueueCount: Int { offlineQueue.count }

    /// Queues offline records and sends online deliveries for an event about a CRM object.
    func emit(_ event: String, id: Int) {
        if bindings.contains(where: { $0.event == event && $0.offline }) {
            // The queue keeps only the latest record per object (one a reader has taken stays until cleared).
            offlineQueue.removeAll { $0.event == event && $0.objectID == id && $0.processID == nil }
            offlineQueue.append(OfflineEvent(id: nextOfflineID, event: event, objectID: id, time: clock(), messageID: B24.hex(&rng, count: 32)))
            nextOfflineID += 1
        }
        deliver(event, data: [("data[FIELDS][ID]", String(id))])
    }

    /// Sends an online event to every handler bound to it; the form matches Bitrix24's recorded bodies.
    func deliver(_ event: String, data: [(String, String)]) {
        let now = clock()
        for binding in bindings where binding.event == event && !binding.offline {
            var pairs: [(String, String)] = [("event", event), ("event_handler_id", String(binding.id))] + data
            pairs.append(("ts", String(Int(now))))
            if binding.outgoingWebhook {
                pairs += [("auth[domain]", domain), ("auth[client_endpoint]", baseURL + "/rest/"),
                          ("auth[server_endpoint]", baseURL + "/rest/"), ("auth[member_id]", memberID),
                          ("auth[application_token]", binding.applicationToken)]
            } else {
                let token = issueAccessToken(userID: binding.userID)
                pairs += [("auth[access_token]", token), ("auth[expires]", String(Int(now + accessTokenLifetime))),
                          ("auth[expires_in]", "3600"), ("auth[scope]", Self.scope), ("auth[domain]", domain),
                          ("auth[server_endpoint]", baseURL + "/rest/"), ("auth[status]", "L"),
                          ("auth[client_endpoint]", baseURL + "/rest/"), ("auth[member_id]", memberID),
                          ("auth[user_id]", String(binding.userID)), ("auth[application_token]", binding.applicationToken)]
            }
            let body = FormURLEncoding.encode(pairs)
            let handler = binding.handler
            let number = nextDeliveryID
            let timeout = deliveryTimeout
            nextDeliveryID += 1
            pendingDeliveries[number] = Task {
                let status = await Self.post(handler, body: body, timeout: timeout)
                self.delivered(number, Delivery(event: event, handler: handler, body: body, status: status))
            }
        }
    }

    private func delivered(_ number: Int, _ delivery: Delivery) {
        pendingDeliveries[number] = nil
        deliveries.append(delivery)
        if !delivery.delivered { lostDeliveries += 1 }  // no retry: the event is gone
    }

    /// Waits until every online delivery started so far has finished (test control).
    public func flushDeliveries() async {
        while let task = pendingDeliveries.values.first {
            await task.value
        }
    }

    private static func post(_ url: String, body: String, timeout: Double) async -> Int? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "User-Agent", value: "Bitrix24 Webhook Engine")
        request.headers.add(name: "Connection", value: "close")
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            _ = try? await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        } catch {
            return nil
        }
    }
}
