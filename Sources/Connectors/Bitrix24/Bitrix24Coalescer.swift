import Synchronization
import SwitchboardCore

/// Packs single calls that several tasks make to one portal at the same time into `batch` requests of up
/// to 50 commands. The portal's leaky bucket counts a batch once, so a burst of 10k lead creates costs
/// ~200 requests instead of 10k, and no caller has to know about batching.
///
/// At most `maxInFlight` requests per portal are under way; calls made meanwhile wait and go together in
/// the next one. An idle portal sees no delay: a lone call is sent at once, as itself.
public actor Bitrix24Coalescer {
    struct Pending {
        var method: String
        var params: [String: JSONValue]
        var client: Bitrix24Client
        var continuation: CheckedContinuation<Bitrix24Answer, any Error>
    }

    private var pending: [Pending] = []
    private var inFlight = 0
    public let maxInFlight: Int
    /// Calls that went through (for tests).
    public private(set) var calls = 0

    public init(maxInFlight: Int = 2) {
        self.maxInFlight = max(1, maxInFlight)
    }

    /// Whether a call may travel inside a batch. A batch command is a PHP query string, which cannot carry
    /// `null` or an empty list (a JSON call can, to clear a field), and Bitrix24 would read `$result[…]` in a
    /// value as a reference to another command — such calls go alone.
    public static func canBatch(_ method: String, _ params: [String: JSONValue]) -> Bool {
        func plain(_ value: JSONValue) -> Bool {
            switch value {
            case .null: false
            case .string(let text): !text.contains("$result")
            case .array(let items): !items.isEmpty && items.allSatisfy(plain)
            case .object(let members): !members.isEmpty && members.values.allSatisfy(plain)
            case .bool, .number: true
            }
        }
        return method != "batch" && params.values.allSatisfy(plain)
    }

    func submit(_ method: String, _ params: [String: JSONValue], via client: Bitrix24Client) async throws -> Bitrix24Answer {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(method: method, params: params, client: client, continuation: continuation))
            dispatch()
        }
    }

    private func dispatch() {
        while inFlight < maxInFlight, !pending.isEmpty {
            // One request goes to one endpoint with one set of credentials.
            let base = pending[0].client.endpoint.base
            var group: [Pending] = []
            var rest: [Pending] = []
            for item in pending {
                if group.count < Bitrix24Client.maxBatchCommands, item.client.endpoint.base == base { group.append(item) } else { rest.append(item) }
            }
            pending = rest
            inFlight += 1
            calls += group.count
            let taken = group
            Task { await self.send(taken) }
        }
    }

    private func send(_ group: [Pending]) async {
        let client = group[0].client
        if group.count == 1 {
            do {
                group[0].continuation.resume(returning: try await client.callDirect(group[0].method, group[0].params))
            } catch {
                group[0].continuation.resume(throwing: error)
            }
        } else {
            let commands = group.indices.map { Bitrix24Command(key: "c\($0)", method: group[$0].method, params: group[$0].params) }
            do {
                let answer = try await client.batch(commands)
                for (index, item) in group.enumerated() {
                    let key = "c\(index)"
                    if let error = answer.errors[key] {
                        item.continuation.resume(throwing: error)
                    } else {
                        item.continuation.resume(
                            returning: Bitrix24Answer(result: answer.results[key] ?? .null, total: answer.totals[key], next: answer.nexts[key]))
                    }
                }
            } catch {
                for item in group { item.continuation.resume(throwing: error) }
            }
        }
        inFlight -= 1
        dispatch()
    }
}

/// One ``Bitrix24Coalescer`` per tenant for the whole process.
public final class Bitrix24Coalescers: Sendable {
    private let byTenant = Mutex<[String: Bitrix24Coalescer]>([:])

    public init() {}

    public func coalescer(tenantID: String) -> Bitrix24Coalescer {
        byTenant.withLock { map in
            if let found = map[tenantID] { return found }
            let made = Bitrix24Coalescer()
            map[tenantID] = made
            return made
        }
    }
}
