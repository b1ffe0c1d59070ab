import Bitrix24
import Foundation
import SwitchboardCore

extension Bitrix24Emulator {
    /// What the emulated portal holds and received, for `GET /sandbox/state` (not part of Bitrix24's API).
    public var state: JSONValue {
        var counts: [String: JSONValue] = [:]
        for entity in Bitrix24Entity.allCases { counts[entity.rawValue] = .number(Double(count(entity))) }
        let calls: [JSONValue] = externalCalls.map { call in
            [
                "call_id": .string(call.callID), "user_id": .number(Double(call.userID)), "phone": .string(call.phoneNumber),
                "type": .number(Double(call.type)), "line": .string(call.lineNumber),
                "external_call_id": call.externalCallID.map(JSONValue.string) ?? .null,
                "crm_entity": call.crmEntityType.map { .string("\($0):\(call.crmEntityID ?? 0)") } ?? .null,
                "finished": .bool(call.finishParams != nil), "status_code": call.statusCode.map(JSONValue.string) ?? .null,
                "records": .number(Double(call.records.count)), "click_to_call": .bool(call.clickToCall),
            ]
        }
        return [
            "counts": .object(counts),
            "requests": .number(Double(requestCount)), "rejected_requests": .number(Double(rejectedCount)),
            "max_requests_per_second": .number(Double(maxObservedRate)),
            "methods_called": .number(Double(methodCalls.count)),
            "bound_events": .array(bindings.map {
                ["id": .number(Double($0.id)), "event": .string($0.event), "handler": .string($0.handler),
                 "offline": .bool($0.offline), "outgoing_webhook": .bool($0.outgoingWebhook)]
            }),
            "offline_queue": .number(Double(offlineQueue.count)),
            "deliveries": .number(Double(deliveries.count)), "lost_deliveries": .number(Double(lostDeliveries)),
            "pending_deliveries": .number(Double(pendingDeliveries.count)),
            "external_lines": .array(externalLines.map { ["number": .string($0.number), "name": .string($0.name)] }),
            "external_calls": .array(calls),
        ]
    }
}
