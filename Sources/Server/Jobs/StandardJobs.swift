import Foundation
import Jobs
import Mirror
import People
import Storage
import SwitchboardCore
import Telephony

/// The job kinds the server itself provides. Connectors add theirs (`crm.sync`, `crm.sync-pipelines`…)
/// when they land.
public enum StandardJobs {
    /// Runs an integration's connection test in the background and records it in the integration log.
    public static let integrationTest = "integration.test"
    /// Deletes finished jobs older than the retention period.
    public static let prune = "jobs.prune"

    /// Recurring jobs every installation runs: a daily prune of finished jobs older than a week and of
    /// integration log entries older than `logRetentionDays`.
    public static func builtInSchedules(logRetentionDays: Int = 30) -> [Schedule] {
        [
            Schedule(
                name: "jobs.prune", kind: prune, payload: ["older_than_days": 7, "logs_older_than_days": .number(Double(logRetentionDays))],
                cadence: .every(.seconds(86_400)), maxAttempts: 3)
        ]
    }

    /// What the scheduler fires: the built-in schedules and every tenant's enabled ones.
    public static func schedules(services: AppServices) async throws -> [Schedule] {
        let mirrored = try await services.stores.syncStates.listEnabled()
        return builtInSchedules(logRetentionDays: services.settings.logRetentionDays) + (try await Schedule.tenantSchedules(services.stores.schedules))
            + MirrorJobs.schedules(mirrored) + CallLogMirror.schedules(mirrored)
            + (try await Bitrix24OfflineEvents.schedules(services.stores.integrations))
            + (try await DashboardRepository(services.database).scheduled()).map { dashboard in
                Schedule(
                    name: "dashboard-refresh:\(dashboard.id)", kind: DashboardController.refreshKind, tenantID: dashboard.tenantID,
                    payload: ["dashboard_id": .string(dashboard.id)], cadence: .every(.seconds(60 * (dashboard.refreshMinutes ?? 60))), maxAttempts: 2)
            }
    }

    public static func registry(services: AppServices) -> JobRegistry {
        var registry = JobRegistry()
        registry.register(
            integrationTest, policy: RetryPolicy(maxAttempts: 3, backoff: .exponential(base: .seconds(5), cap: .seconds(60))),
            timeout: .seconds(60)
        ) { context in
            guard let tenantID = context.job.tenantID else { throw JobFailure.permanent("integration.test needs a tenant") }
            guard let kindName = context.job.payload.objectValue?["kind"]?.stringValue,
                let kind = IntegrationKind(rawValue: kindName)
            else { throw JobFailure.permanent("payload.kind must name an integration") }
            guard let integration = try await services.stores.integrations.find(tenantID: tenantID, kind: kind) else {
                throw JobFailure.permanent("the tenant has no \(kindName) integration")
            }
            let result = await IntegrationController.runTest(integration, services: services)
            return try JSONDecoder().decode(JSONValue.self, from: JSONCoding.encoder.encode(result))
        }
        TelephonyDispatcher(retailCRM: services.retailCRM, bitrix24: services.bitrix24, amoCRM: services.amoCRM).register(into: &registry)
        MirrorJobs(database: services.database, sources: services.mirrorSources).register(into: &registry)
        Bitrix24OfflineEvents(database: services.database, sources: services.mirrorSources).register(into: &registry)
        CallLogMirror(database: services.database, integrations: services.stores.integrations).register(into: &registry)
        PeopleSync(database: services.database, secrets: services.secrets, bitrix24: services.bitrix24, amoCRM: services.amoCRM).register(into: &registry)
        PeopleCallbacks(database: services.database, secrets: services.secrets).register(into: &registry)
        RetailCRMModuleRegistration(access: services.retailCRM, defaultPublicURL: services.settings.publicURL).register(into: &registry)
        registry.register(DashboardController.refreshKind, policy: .standard, timeout: .seconds(600)) { context in
            guard let tenantID = context.job.tenantID, let id = context.job.payload.objectValue?["dashboard_id"]?.stringValue else {
                throw JobFailure.permanent("\(DashboardController.refreshKind) needs a tenant and payload.dashboard_id")
            }
            // A dashboard deleted since the job was queued has nothing left to refresh.
            guard let dashboard = try await DashboardRepository(services.database).find(tenantID: tenantID, id: id) else { return ["skipped": "deleted"] }
            try await DashboardController.refresh(dashboard, services: services)
            return ["charts": .number(Double(dashboard.layout.count))]
        }
        registry.register(prune, policy: .standard, timeout: .seconds(600)) { context in
            var days = 7.0
            if case .number(let value) = context.job.payload.objectValue?["older_than_days"] { days = value }
            var effectDays = 30.0
            if case .number(let value) = context.job.payload.objectValue?["effects_older_than_days"] { effectDays = value }
            var logDays = 30.0
            if case .number(let value) = context.job.payload.objectValue?["logs_older_than_days"] { logDays = value }
            guard days >= 0, effectDays >= 1, logDays >= 1 else {
                throw JobFailure.permanent(
                    "older_than_days must not be negative; effects_older_than_days and logs_older_than_days must be at least 1")
            }
            let removed = try await services.jobs.prune(finishedBefore: Date().addingTimeInterval(-days * 86_400))
            // Effect records outlive jobs: a late retry of a CRM effect must still find its record.
            let effects = try await EffectLedger(services.database).prune(recordedBefore: Date().addingTimeInterval(-effectDays * 86_400))
            let logs = try await services.stores.logs.prune(before: Date().addingTimeInterval(-logDays * 86_400))
            return ["removed": .number(Double(removed)), "effects_removed": .number(Double(effects)), "logs_removed": .number(Double(logs))]
        }
        return registry
    }
}
