import ArgumentParser
import Foundation
import Jobs
import Server
import Storage
import SwitchboardCore
import Telephony

/// `switchboard calls list|replay`.
struct CallsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls", abstract: "Inspect calls and send them to the CRMs again.", subcommands: [List.self, Replay.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A tenant's calls, newest first.")
        @Argument(help: "Tenant slug or id.") var tenant: String
        @Option(help: "At most this many (1–1000).") var limit = 50
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (tenant, limit) = (tenant, limit)
            let calls = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                return try await stores.calls.list(.init(tenantID: try await stores.tenants.require(tenant).id, limit: limit))
            }
            if json {
                try Output.json(calls.map(\.call))
            } else {
                let formatter = ISO8601DateFormatter()
                Output.table(
                    calls.map {
                        [formatter.string(from: $0.call.startedAt), $0.call.direction.rawValue, $0.call.customerPhone ?? "-",
                         $0.call.answeredBy ?? $0.call.extensions.joined(separator: ","), $0.progress == .completed ? $0.call.outcome.rawValue : $0.progress.rawValue,
                         "\($0.call.billsec)s", $0.call.externalID]
                    },
                    header: ["STARTED", "DIR", "CUSTOMER", "EXTENSION", "OUTCOME", "TALK", "PBX ID"])
            }
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send completed calls to the tenant's CRMs again (steps already delivered are skipped).",
            discussion: "Workers (`serve` or `worker`) do the sending; this only queues it.")
        @Argument(help: "Tenant slug or id.") var tenant: String
        @Option(name: .customLong("id"), help: "A call id (repeatable).") var ids: [String] = []
        @Option(help: "Start of the period, ISO 8601 (with --to).") var from: String?
        @Option(help: "End of the period, ISO 8601.") var to: String?
        @OptionGroup var storage: StorageOptions

        func validate() throws {
            guard ids.isEmpty != (from == nil && to == nil) else { throw ValidationError("give --id, or --from and --to") }
        }

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (tenantKey, ids) = (tenant, ids)
            let period = try [from, to].map { text -> Date? in
                guard let text else { return nil }
                guard let date = ISO8601DateFormatter().date(from: text) else { throw ValidationError("'\(text)' is not an ISO 8601 time") }
                return date
            }
            let summary = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                let tenant = try await stores.tenants.require(tenantKey)
                var records: [CallRecord] = []
                for id in ids {
                    guard let record = try await stores.calls.find(tenantID: tenant.id, id: id) else { throw SwitchboardError.notFound("call \(id)") }
                    records.append(record)
                }
                if let from = period[0], let to = period[1] {
                    records = try await stores.calls.completed(tenantID: tenant.id, from: from, to: to, limit: CallReplay.maxCalls)
                }
                let targets = try await CallIntake.targets(tenantID: tenant.id, integrations: stores.integrations)
                guard !targets.isEmpty else { throw SwitchboardError.conflict("no enabled CRM integration takes calls") }
                return try await CallReplay(queue: JobQueue(database: database)).replay(records, targets: targets)
            }
            print("calls: \(summary.calls), queued: \(summary.queued), already delivered: \(summary.alreadyDelivered), in progress: \(summary.skippedInProgress)")
        }
    }
}
