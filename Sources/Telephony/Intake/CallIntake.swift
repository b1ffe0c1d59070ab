import Foundation
import Jobs
import Storage
import SwitchboardCore

/// Accepts PBX events durably: the raw event, the updated call and the CRM jobs are committed in one
/// transaction before the PBX gets its answer; everything slow happens in workers.
public struct CallIntake: Sendable {
    public let queue: JobQueue
    var database: Database { queue.database }

    /// CRM integrations that take calls; the others ignore PBX events.
    public static let callTargets: Set<IntegrationKind> = [.retailcrm]

    /// The job kind that performs one CRM step of a call.
    public static let jobKind = "telephony.crm-step"

    public init(queue: JobQueue) {
        self.queue = queue
    }

    /// What the PBX is told.
    public struct Receipt: Sendable, Encodable, Equatable {
        public var callId: String?
        /// True when this exact event (call + type) had already been accepted; nothing was changed.
        public var duplicate: Bool
        public var state: String?
        /// `integration:step` jobs queued for the CRMs.
        public var queued: [String]
    }

    /// Stores `event` for `tenant`. `crmTargets` are the tenant's enabled CRM integrations that take calls.
    public func accept(
        _ event: SeedCallEvent, raw: String, tenant: Tenant, crmTargets: [IntegrationKind], parties: PartyClassifier
    ) async throws -> Receipt {
        let now = Date.storageNow
        let (receipt, queued) = try await database.transaction { tx -> (Receipt, Bool) in
            let calls = CallRepository(tx)
            let fresh = try await calls.recordEvent(
                tenantID: tenant.id, callExternalID: event.uniqueID, type: event.kind.rawValue,
                source: event.kind == .download ? .download : .http, dedupKey: "http:\(event.uniqueID):\(event.kind.rawValue)",
                payload: raw, at: now)
            let existing = try await calls.find(tenantID: tenant.id, externalID: event.uniqueID)
            guard fresh else {
                return (Receipt(callId: existing?.id, duplicate: true, state: existing?.progress.rawValue, queued: []), false)
            }
            let (record, steps) = SeedCallProjection.apply(event, to: existing, tenantID: tenant.id, parties: parties, now: now)
            try await calls.save(record)
            var queued: [String] = []
            var jobs: [JobQueue.NewJob] = []
            for target in crmTargets {
                for step in steps {
                    jobs.append(Self.job(step, target: target, record: record))
                    queued.append("\(target.rawValue):\(step.rawValue)")
                }
            }
            // One multi-row insert (and on PostgreSQL one NOTIFY) for all of the event's steps; a step whose
            // job is still live (same unique key) is already queued.
            _ = try await JobQueue.enqueue(batch: jobs, on: tx)
            return (Receipt(callId: record.id, duplicate: false, state: record.progress.rawValue, queued: queued), !queued.isEmpty)
        }
        if queued { await queue.notifier.notifyAll() }
        return receipt
    }

    /// Queues one CRM step of a call (also used by replay).
    @discardableResult
    public static func enqueue(_ step: DispatchStep, target: IntegrationKind, record: CallRecord, on runner: any SQLRunner) async throws -> Job {
        try await JobQueue.enqueue(job(step, target: target, record: record), on: runner).job
    }

    /// The job of one CRM step of a call; its unique key makes a step queued twice run once.
    static func job(_ step: DispatchStep, target: IntegrationKind, record: CallRecord) -> JobQueue.NewJob {
        // Live cards first: a card that shows up late is useless, history can wait a little.
        let priority = switch step {
        case .dial: 10
        case .hangup: 20
        case .upload: 50
        }
        return .init(
            kind: jobKind, tenantID: record.tenantID,
            payload: ["call_id": .string(record.id), "step": .string(step.rawValue), "integration": .string(target.rawValue)],
            priority: priority, maxAttempts: TelephonyPolicies.maxAttempts(for: step),
            uniqueKey: "telephony:\(record.tenantID):\(record.call.externalID):\(target.rawValue):\(step.rawValue)")
    }
}

/// How many attempts each telephony step gets (seed 002: 2–3 retries; a card is worthless after a few
/// seconds, the history must get there however long the CRM is down). Backoff is the job kind's.
public enum TelephonyPolicies {
    public static func maxAttempts(for step: DispatchStep) -> Int {
        switch step {
        case .dial, .hangup: 3
        case .upload: 12
        }
    }
}
