import Foundation
import Jobs
import Storage
import SwitchboardCore

/// Accepts PBX events durably: the raw event, the updated call and the CRM jobs are committed in one
/// transaction before the PBX gets its answer; everything slow happens in workers.
public struct CallIntake: Sendable {
    public let queue: JobQueue
    var database: Database { queue.database }

    /// CRM integrations that can take calls; the others ignore PBX events.
    public static let callTargets: Set<IntegrationKind> = [.retailcrm, .bitrix24, .amocrm]

    /// The tenant's enabled integrations that take its calls. Bitrix24 and amoCRM take them only when
    /// their integration says so (`settings.telephony`): many accounts are connected for the mirror alone.
    public static func targets(tenantID: String, integrations: IntegrationRepository) async throws -> [IntegrationKind] {
        try await integrations.enabledSettings(tenantID: tenantID)
            .filter { kind, settings in callTargets.contains(kind) && (kind == .retailcrm || settings["telephony"]?.boolValue == true) }
            .keys.sorted { $0.rawValue < $1.rawValue }
    }

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

    /// One PBX event to commit, with what its tenant decides about it.
    public struct Submission: Sendable {
        public var event: SeedCallEvent
        public var raw: String
        public var tenant: Tenant
        /// The tenant's enabled CRM integrations that take calls.
        public var crmTargets: [IntegrationKind]
        public var parties: PartyClassifier

        public init(event: SeedCallEvent, raw: String, tenant: Tenant, crmTargets: [IntegrationKind], parties: PartyClassifier) {
            self.event = event
            self.raw = raw
            self.tenant = tenant
            self.crmTargets = crmTargets
            self.parties = parties
        }
    }

    /// Stores `event` for `tenant`. `crmTargets` are the tenant's enabled CRM integrations that take calls.
    public func accept(
        _ event: SeedCallEvent, raw: String, tenant: Tenant, crmTargets: [IntegrationKind], parties: PartyClassifier
    ) async throws -> Receipt {
        try await accept([Submission(event: event, raw: raw, tenant: tenant, crmTargets: crmTargets, parties: parties)])[0]
    }

    /// Commits many events in one transaction with a handful of multi-row statements (the raw events,
    /// the calls they touch, the jobs they queue), whatever the batch size. Events of one call apply in
    /// the order given; a repeated event (same call and type) is a duplicate and changes nothing.
    public func accept(_ items: [Submission]) async throws -> [Receipt] {
        guard !items.isEmpty else { return [] }
        let now = Date.storageNow
        let (receipts, queued) = try await database.transaction { tx -> ([Receipt], Bool) in
            let calls = CallRepository(tx)
            // A millisecond apart, so events committed together keep their order in the call's event list.
            let raws = items.enumerated().map { index, item in
                CallRepository.RawEvent(
                    tenantID: item.tenant.id, callExternalID: item.event.uniqueID, type: item.event.kind.rawValue,
                    source: item.event.kind == .download ? .download : .http, dedupKey: "http:\(item.event.uniqueID):\(item.event.kind.rawValue)",
                    payload: item.raw, at: now.addingTimeInterval(Double(index) / 1000))
            }
            var fresh = try await calls.recordEvents(raws)
            var records = try await calls.find(keys: items.map { ($0.tenant.id, $0.event.uniqueID) })
            var changed: [String] = []
            var jobs: [JobQueue.NewJob] = []
            var receipts: [Receipt] = []
            for (item, raw) in zip(items, raws) {
                let key = item.tenant.id + "|" + item.event.uniqueID
                guard fresh.remove(raw.key) != nil else {
                    let existing = records[key]
                    receipts.append(Receipt(callId: existing?.id, duplicate: true, state: existing?.progress.rawValue, queued: []))
                    continue
                }
                let (record, steps) = SeedCallProjection.apply(item.event, to: records[key], tenantID: item.tenant.id, parties: item.parties, now: now)
                if records[key] == nil || !changed.contains(key) { changed.append(key) }
                records[key] = record
                var queued: [String] = []
                for target in item.crmTargets {
                    for step in steps {
                        jobs.append(Self.job(step, target: target, record: record))
                        queued.append("\(target.rawValue):\(step.rawValue)")
                    }
                }
                receipts.append(Receipt(callId: record.id, duplicate: false, state: record.progress.rawValue, queued: queued))
            }
            try await calls.save(changed.compactMap { records[$0] })
            // A step whose job is still live (same unique key) is already queued.
            try await JobQueue.enqueueCounting(batch: jobs, on: tx)
            return (receipts, !jobs.isEmpty)
        }
        if queued { await queue.notifier.notifyAll() }
        return receipts
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
