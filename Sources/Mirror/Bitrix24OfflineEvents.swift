import Access
import Bitrix24
import Foundation
import Jobs
import Logging
import Storage
import SwitchboardCore

/// The lossless path beside online events: Bitrix24 never retries an online delivery, so an installed app
/// also binds the CRM events as *offline* ones and this job drains the portal's queue into the mirror.
///
/// Records are taken with `clear=0` (they stay queued, marked with a process id), applied, and only then
/// cleared; the process id is saved first, so after a crash the next run takes the same records again
/// instead of leaving them marked for nobody. Applying twice is harmless (records are re-read).
public struct Bitrix24OfflineEvents: Sendable {
    public static let kind = "bitrix24.offline-events"
    static let cursor = "offline_process_id"
    /// Records per `event.offline.get` (Bitrix24's default page).
    static let pageSize = 50
    /// A run stops after this many pages; the next one continues (the schedule or a re-queue).
    static let maxPagesPerRun = 200
    /// How often the queue is polled unless the integration sets `offline_poll_seconds`.
    public static let defaultPollSeconds = 60

    public let database: Database
    public let sources: MirrorSources

    public init(database: Database, sources: MirrorSources) {
        self.database = database
        self.sources = sources
    }

    /// The poll job of a tenant; its unique key keeps one queued at a time.
    public static func job(tenantID: String) -> JobQueue.NewJob {
        JobQueue.NewJob(kind: kind, tenantID: tenantID, payload: [:], maxAttempts: 5, uniqueKey: "schedule:" + scheduleName(tenantID))
    }

    static func scheduleName(_ tenantID: String) -> String { "bitrix24-offline:\(tenantID)" }

    /// One poll schedule per enabled Bitrix24 app whose offline events are bound (`settings.offline_events`).
    public static func schedules(_ integrations: IntegrationRepository) async throws -> [Schedule] {
        try await integrations.enabledSettings(kind: .bitrix24).filter { $0.settings["offline_events"]?.boolValue == true }.map { tenantID, settings in
            let seconds = max(10, settings["offline_poll_seconds"]?.intValue ?? defaultPollSeconds)
            return Schedule(
                name: scheduleName(tenantID), kind: kind, tenantID: tenantID, payload: [:],
                cadence: .every(.seconds(seconds)), maxAttempts: 5)
        }
    }

    public func register(into registry: inout JobRegistry) {
        registry.register(Self.kind, policy: RetryPolicy(maxAttempts: 5, backoff: .exponential(base: .seconds(10), cap: .seconds(300))), timeout: .seconds(1800)) {
            context in
            guard let tenantID = context.job.tenantID else { throw JobFailure.permanent("\(Self.kind) needs a tenant") }
            return try await drain(tenantID: tenantID, logger: context.logger)
        }
    }

    /// Takes, applies and clears queued events until the queue is empty (or the page budget is spent).
    public func drain(tenantID: String, logger: Logger) async throws -> JSONValue {
        let stores = sources.stores
        guard let tenant = try await stores.tenants.find(tenantID) else { throw JobFailure.permanent("tenant \(tenantID) is gone") }
        guard let integration = try await stores.integrations.find(tenantID: tenantID, kind: .bitrix24), integration.enabled else {
            return ["skipped": "the bitrix24 integration is not enabled"]
        }
        let client = try sources.bitrix24.client(integration, event: Self.kind)
        let cursors = ConnectorCursorRepository(database)
        var pending = try await cursors.get(tenantID: tenantID, integration: "bitrix24", name: Self.cursor)
        var (taken, applied, ignored, pages) = (0, 0, 0, 0)
        let off = try await stores.syncStates.eventsOff(tenantID: tenantID, integration: "bitrix24")
        while pages < Self.maxPagesPerRun {
            pages += 1
            let (processID, events) = try await client.takeOfflineEvents(processID: pending, limit: Self.pageSize)
            if events.isEmpty {
                if let pending { try await client.clearOfflineEvents(processID: pending) }
                try await cursors.delete(tenantID: tenantID, integration: "bitrix24", name: Self.cursor)
                break
            }
            try await cursors.set(tenantID: tenantID, integration: "bitrix24", name: Self.cursor, value: processID)
            pending = processID
            taken += events.count
            var ids: [Bitrix24Entity: Set<Int64>] = [:]
            for event in events {
                guard let (entity, _) = Bitrix24Entity.parse(event: event.name), let id = event.objectID, !off.contains(entity.rawValue) else {
                    ignored += 1
                    continue
                }
                ids[entity, default: []].insert(id)
            }
            if !ids.isEmpty {
                let batches = ids.sorted { $0.key.rawValue < $1.key.rawValue }.map { ($0.key, $0.value.sorted()) }
                applied += try await MirrorDatabase.with(tenantID: tenantID, main: database, integrations: stores.integrations) { mirror in
                    let sync = MirrorSync(
                        source: Bitrix24MirrorSource(client: client), mirror: mirror, states: stores.syncStates, tenantID: tenantID,
                        defaultCountry: tenant.defaultCountry, logger: logger)
                    var count = 0
                    for (entity, recordIDs) in batches {
                        let target = try MirrorSources.entity(crm: "bitrix24", name: entity.rawValue)
                        let (stored, deleted) = try await sync.apply(target, ids: recordIDs)
                        count += stored + deleted
                    }
                    return count
                }
            }
            try await client.clearOfflineEvents(processID: processID)
            try await cursors.delete(tenantID: tenantID, integration: "bitrix24", name: Self.cursor)
            pending = nil
        }
        if taken > 0 { logger.info("bitrix24 offline events applied", metadata: ["taken": "\(taken)", "applied": "\(applied)", "ignored": "\(ignored)"]) }
        return ["taken": .number(Double(taken)), "applied": .number(Double(applied)), "ignored": .number(Double(ignored)), "pages": .number(Double(pages))]
    }
}
