import Foundation
import Storage
import SwitchboardCore

extension Schedule {
    /// The scheduler's view of a tenant's schedule. Its ticks are keyed by the schedule's id, so renaming
    /// it does not make it fire twice in one period.
    public init(_ schedule: TenantSchedule, timeZone: String) throws {
        let cadence: Cadence
        if let text = schedule.cron {
            cadence = .cron(try CronExpression(text), timeZone: TimeZone(identifier: timeZone) ?? .gmt)
        } else {
            cadence = .every(.seconds(schedule.everySeconds ?? TenantSchedule.minimumInterval))
        }
        self.init(
            name: "tenant:\(schedule.tenantID):\(schedule.id)", kind: schedule.kind, tenantID: schedule.tenantID,
            payload: schedule.payload, cadence: cadence, maxAttempts: schedule.maxAttempts)
    }

    /// Every enabled schedule of every live tenant. One that no longer parses (edited by hand in the
    /// database) is skipped rather than stopping the others.
    public static func tenantSchedules(_ repository: ScheduleRepository) async throws -> [Schedule] {
        try await repository.active().compactMap { try? Schedule($0.schedule, timeZone: $0.timeZone) }
    }
}
