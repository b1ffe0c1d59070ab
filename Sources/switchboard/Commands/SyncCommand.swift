import Access
import ArgumentParser
import Foundation
import Jobs
import Mirror
import Storage
import SwitchboardCore
import Synchronization

/// `switchboard sync <tenant> <entity> [--full]` and `switchboard sync status <tenant>`: the CRM mirror
/// from the command line. A run here happens in this process (with a progress bar), through the same
/// engine, rate limit and checkpoints as the `mirror.sync` job; it resumes a run that died.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Mirror a CRM entity into SQL, or show where each entity's mirror stands.",
        subcommands: [Run.self, Status.self], defaultSubcommand: Run.self)

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run", abstract: "Sync one entity now, showing rows, rate and ETA.",
            discussion: "Entities of bitrix24: deal, contact, lead, company, status, category, user. Of amocrm: lead, contact, company, pipeline, status, user.")
        @Argument(help: "Tenant slug or id.") var tenant: String
        @Argument(help: "Entity: deal, contact, lead, company, status, category, user (amocrm: pipeline instead of category).") var entity: String
        @Flag(help: "Read everything (and find deletions) instead of only what changed since the last run.") var full = false
        @Option(help: "The CRM integration to read.") var integration = "bitrix24"
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let (tenantKey, crm, mode) = (tenant, integration, full ? MirrorSync.Mode.full : .incremental)
            let entity = try MirrorSources.entity(crm: crm, name: entity)
            let logger = runtime.logger
            let outcome = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                let tenant = try await stores.tenants.require(tenantKey)
                let (limiter, breakers) = (RateLimiter(), CircuitBreakers())
                let access = Bitrix24Access(
                    database: database, tokens: Bitrix24TokenKeeper(database: database, secrets: secrets), rateLimiter: limiter, breakers: breakers)
                let amoCRM = AmoCRMAccess(
                    database: database, tokens: AmoCRMTokenKeeper(database: database, secrets: secrets), rateLimiter: limiter, breakers: breakers)
                let source: any MirrorSource
                do {
                    source = try await MirrorSources(stores: stores, bitrix24: access, amoCRM: amoCRM).source(tenantID: tenant.id, crm: crm, event: "cli.sync")
                } catch let failure as JobFailure {
                    throw SwitchboardError.conflict(failure.message, field: "integration")
                }
                return try await MirrorDatabase.with(tenantID: tenant.id, main: database, integrations: stores.integrations) { mirror in
                    var sync = MirrorSync(
                        source: source, mirror: mirror, states: stores.syncStates, tenantID: tenant.id, defaultCountry: tenant.defaultCountry,
                        logger: logger)
                    let bar = ProgressBar(label: "\(crm) \(entity.name)")
                    sync.onProgress = { state in bar.update(done: state.rowsDone, total: state.rowsTotal) }
                    let outcome = try await sync.run(entity, mode: mode)
                    bar.finish()
                    return outcome
                }
            }
            print(
                "\(outcome.mode.rawValue) sync of \(entity.name)\(outcome.resumed ? " (resumed)" : ""): \(outcome.rowsRead) rows read, "
                    + "\(outcome.rowsDeleted) marked deleted, \(outcome.columnsAdded) columns added, \(outcome.rowsInMirror) in the mirror")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Where each entity's mirror stands.")
        @Argument(help: "Tenant slug or id.") var tenant: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var storage: StorageOptions

        func run() async throws {
            let runtime = try await Runtime.make(storage: storage, defaultLogLevel: .warning)
            let tenantKey = tenant
            let states = try await runtime.withDatabase { database, secrets in
                let stores = Stores(database, secrets: secrets)
                return try await stores.syncStates.list(tenantID: try await stores.tenants.require(tenantKey).id)
            }
            if json { return try Output.json(states) }
            guard !states.isEmpty else { return print("nothing synced yet — try: switchboard sync \(tenantKey) deal --full") }
            let formatter = ISO8601DateFormatter()
            Output.table(
                states.map { state in
                    [state.integration, state.entity, state.phase.rawValue, state.rowsInMirror.map(String.init) ?? "-",
                     state.lastFullAt.map(formatter.string) ?? "-", state.lastIncrementalAt.map(formatter.string) ?? "-",
                     state.enabled ? "every \(state.intervalMinutes) min" : "off", state.lastError.map { String($0.prefix(60)) } ?? ""]
                },
                header: ["CRM", "ENTITY", "STATE", "ROWS", "LAST FULL", "LAST INCREMENTAL", "SCHEDULE", "ERROR"])
        }
    }
}

/// A one-line progress bar on standard error (a line every few seconds when it is not a terminal).
final class ProgressBar: Sendable {
    let label: String
    let started = ContinuousClock.now
    let interactive = isatty(STDERR_FILENO) == 1
    private let lastPrint = Mutex<ContinuousClock.Instant?>(nil)

    init(label: String) {
        self.label = label
    }

    func update(done: Int64, total: Int64?) {
        let now = ContinuousClock.now
        let due = lastPrint.withLock { last -> Bool in
            let wait: Duration = interactive ? .milliseconds(100) : .seconds(5)
            if let previous = last, now - previous < wait { return false }
            last = now
            return true
        }
        guard due else { return }
        let seconds = max(0.001, (now - started).inSeconds)
        let rate = Double(done) / seconds
        var line = "\(label): \(done)"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * 30)
            let eta = rate > 0 ? Int(Double(max(0, total - done)) / rate) : 0
            line = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 30 - filled))] "
                + "\(Int(fraction * 100))% \(done)/\(total) rows, \(Int(rate)) rows/s, ETA \(eta / 60):\(String(format: "%02d", eta % 60))"
        } else {
            line += " rows, \(Int(rate)) rows/s"
        }
        FileHandle.standardError.write(Data(((interactive ? "\r\u{1B}[2K" : "") + line + (interactive ? "" : "\n")).utf8))
    }

    func finish() {
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
