import Foundation
import Jobs
import Storage
import SwitchboardCore

/// Sends stored calls to the CRMs again — after an outage that outlasted the retries, or after a CRM
/// was connected later. Safe to repeat: a step already delivered is found in the effect ledger and
/// not sent twice.
public struct CallReplay: Sendable {
    public let queue: JobQueue

    public init(queue: JobQueue) {
        self.queue = queue
    }

    /// What a replay did.
    public struct Summary: Sendable, Encodable, Equatable {
        public var calls: Int
        /// Steps queued now.
        public var queued: Int
        /// Steps the CRM already has (they will not be sent again).
        public var alreadyDelivered: Int
        /// Calls that are still in progress (replayed once they finish).
        public var skippedInProgress: Int
    }

    /// The most calls one replay takes.
    public static let maxCalls = 10_000

    public func replay(_ records: [CallRecord], targets: [IntegrationKind], steps: [DispatchStep] = [.upload]) async throws -> Summary {
        var summary = Summary(calls: records.count, queued: 0, alreadyDelivered: 0, skippedInProgress: 0)
        let ledger = EffectLedger(queue.database)
        for record in records {
            guard record.progress == .completed else {
                summary.skippedInProgress += 1
                continue
            }
            guard record.call.direction != .internal else { continue }
            for target in targets {
                for step in steps {
                    let key = "\(target.rawValue):\(record.call.externalID):\(step.rawValue)"
                    if try await ledger.find(tenantID: record.tenantID, key: key) != nil {
                        summary.alreadyDelivered += 1
                        continue
                    }
                    try await CallIntake.enqueue(step, target: target, record: record, on: queue.database)
                    summary.queued += 1
                }
            }
        }
        if summary.queued > 0 { await queue.notifier.notifyAll() }
        return summary
    }
}
