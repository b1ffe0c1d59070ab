import Asterisk
import Foundation
import Jobs
import Logging
import Storage
import SwitchboardCore

/// One tenant's calls from its AMI connection: events go through the tracker; a call's card is queued
/// when it starts ringing, and the finished call is committed with its raw events and CRM jobs in one
/// transaction.
public actor AMICallRecorder {
    let tenant: Tenant
    let queue: JobQueue
    let secrets: SecretBox
    let logger: Logger
    private var tracker: CallTracker
    private var raw: [String: [AMIMessage]] = [:]
    private var ringingSaved: Set<String> = []
    private let redirect: SmartRedirect?
    private var redirected: Set<String> = []

    /// The most raw events kept for one call (a call that never ends must not eat memory).
    static let maxEventsPerCall = 1000

    public init(tenant: Tenant, queue: JobQueue, secrets: SecretBox, parties: PartyClassifier, redirect: SmartRedirect? = nil, logger: Logger) {
        self.redirect = redirect
        self.tenant = tenant
        self.queue = queue
        self.secrets = secrets
        self.tracker = CallTracker(parties: parties)
        var logger = logger
        logger[metadataKey: "tenant"] = "\(tenant.slug)"
        self.logger = logger
    }

    public func handle(_ message: AMIMessage) async {
        if let callID = message["Linkedid"] ?? message["DestLinkedid"], (raw[callID]?.count ?? 0) < Self.maxEventsPerCall {
            raw[callID, default: []].append(message)
        }
        for update in tracker.handle(message) {
            if let redirect, case .ringing(let callID, .inbound, let phone?, let number) = update, redirected.insert(callID).inserted,
                let channel = tracker.callerChannel(of: callID)
            {
                // Off the event path: the lookup has its own time budget, and events keep flowing meanwhile.
                Task { await redirect.run(callID: callID, phone: phone, channel: channel, ringing: number) { await self.isRinging(callID) } }
            }
            await persist(update)
        }
    }

    func isRinging(_ callID: String) -> Bool { tracker.isRinging(callID) }

    /// Finishes calls whose hangups never came (the connection was down), so they are not stuck forever.
    public func expireStale(olderThan age: Duration = .seconds(4 * 3600)) async {
        for update in tracker.expire(idleSince: Date().addingTimeInterval(-age.inSeconds)) {
            if case .completed(let call) = update { redirected.remove(call.externalID) }
            await persist(update)
        }
    }

    private func persist(_ update: CallTracker.Update) async {
        for attempt in 1...3 {
            do {
                // Not cancelled with the connection: an update already received is stored even while shutting down.
                try await Task { try await self.write(update) }.value
                return
            } catch {
                logger.error("could not store an AMI call update", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
    }

    private func targets(_ runner: any SQLRunner) async throws -> [IntegrationKind] {
        try await CallIntake.targets(tenantID: tenant.id, integrations: IntegrationRepository(runner, secrets: secrets))
    }

    private func write(_ update: CallTracker.Update) async throws {
        let now = Date.storageNow
        var queued = false
        switch update {
        case .ringing(let callID, let direction, let phone, let number):
            let first = !ringingSaved.contains(callID)
            ringingSaved.insert(callID)
            queued = try await queue.database.transaction { tx in
                let calls = CallRepository(tx)
                var record = try await calls.find(tenantID: tenant.id, externalID: callID) ?? CallRecord(
                    id: Identifiers.newID(), tenantID: tenant.id, source: .ami, progress: .ringing,
                    call: Call(externalID: callID, direction: direction, customerPhone: phone, startedAt: now, outcome: .unknown),
                    createdAt: now, updatedAt: now)
                record.call.direction = direction
                if record.call.customerPhone == nil { record.call.customerPhone = phone }
                if !record.call.extensions.contains(number) { record.call.extensions.append(number) }
                let sendCard = first && !record.dialSeen && direction != .internal
                record.dialSeen = record.dialSeen || sendCard
                try await calls.save(record)
                guard sendCard else { return false }
                for target in try await targets(tx) { try await CallIntake.enqueue(.dial, target: target, record: record, on: tx) }
                return true
            }
        case .answered(let callID, _, _, let number):
            try await queue.database.transaction { tx in
                let calls = CallRepository(tx)
                guard var record = try await calls.find(tenantID: tenant.id, externalID: callID) else { return }
                record.call.answeredBy = record.call.answeredBy ?? number
                record.call.answeredAt = record.call.answeredAt ?? now
                record.progress = .answered
                try await calls.save(record)
            }
        case .completed(let call):
            let events = raw.removeValue(forKey: call.externalID) ?? []
            ringingSaved.remove(call.externalID)
            redirected.remove(call.externalID)
            queued = try await queue.database.transaction { tx in
                let calls = CallRepository(tx)
                for (index, event) in events.enumerated() {
                    _ = try await calls.recordEvent(
                        tenantID: tenant.id, callExternalID: call.externalID, type: event.event ?? "message", source: .ami,
                        dedupKey: "ami:\(call.externalID):\(event["Uniqueid"] ?? event["DestUniqueid"] ?? ""):\(event["Timestamp"] ?? "\(index)"):\(event.event ?? ""):\(index)",
                        payload: event.encoded(), at: now)
                }
                let existing = try await calls.find(tenantID: tenant.id, externalID: call.externalID)
                var record = existing ?? CallRecord(
                    id: Identifiers.newID(), tenantID: tenant.id, source: .ami, progress: .completed, call: call, createdAt: now, updatedAt: now)
                record.call = Self.merge(call, into: existing?.call)
                record.progress = .completed
                var steps: [DispatchStep] = []
                if call.direction != .internal {
                    if !record.dialSeen { steps.append(.dial) }
                    steps += [.hangup, .upload]
                }
                record.dialSeen = true
                try await calls.save(record)
                let kinds = steps.isEmpty ? [] : try await targets(tx)
                for target in kinds {
                    for step in steps { try await CallIntake.enqueue(step, target: target, record: record, on: tx) }
                }
                return !kinds.isEmpty
            }
            logger.info(
                "call finished",
                metadata: ["call": "\(call.externalID)", "direction": "\(call.direction.rawValue)", "outcome": "\(call.outcome.rawValue)"])
        }
        if queued { await queue.notifier.notifyAll() }
    }

    /// After a restart mid-call the tracker saw only the end of it: keep what was stored from the start.
    static func merge(_ call: Call, into stored: Call?) -> Call {
        guard let stored else { return call }
        var merged = call
        merged.startedAt = min(call.startedAt, stored.startedAt)
        merged.customerPhone = call.customerPhone ?? stored.customerPhone
        merged.answeredBy = call.answeredBy ?? stored.answeredBy
        merged.answeredAt = call.answeredAt ?? stored.answeredAt
        for number in stored.extensions where !merged.extensions.contains(number) { merged.extensions.insert(number, at: 0) }
        if let end = merged.endedAt { merged.duration = max(merged.duration, Int(end.timeIntervalSince(merged.startedAt).rounded(.down))) }
        return merged
    }
}
