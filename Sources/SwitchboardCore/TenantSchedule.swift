import Foundation

/// A recurring job a tenant's admin set up, e.g. "sync pipelines every night at 3:00" — fired by the
/// scheduler once per period on the tenant's wall clock, however many worker processes run.
public struct TenantSchedule: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    /// Unique per tenant, e.g. `nightly-pipelines`.
    public var name: String
    /// A registered job kind.
    public var kind: String
    public var payload: JSONValue
    /// Exactly one of `cron` and `everySeconds` is set.
    public var cron: String?
    public var everySeconds: Int?
    public var enabled: Bool
    public var maxAttempts: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenantID: String, name: String, kind: String, payload: JSONValue = [:], cron: String? = nil,
        everySeconds: Int? = nil, enabled: Bool = true, maxAttempts: Int = 3, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.kind = kind
        self.payload = payload
        self.cron = cron
        self.everySeconds = everySeconds
        self.enabled = enabled
        self.maxAttempts = maxAttempts
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The shortest interval an admin may set: CRM limits make anything faster pointless.
    public static let minimumInterval = 60
    /// The longest interval: 31 days (use cron for anything calendar-like).
    public static let maximumInterval = 31 * 86_400

    /// Checks the fields an admin can set; errors name the field.
    public func validate() throws(SwitchboardError) {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, name.count <= 100 else { throw .invalid("name", "name must be 1–100 characters") }
        guard payload.objectValue != nil else { throw .invalid("payload", "payload must be a JSON object") }
        guard (1...100).contains(maxAttempts) else { throw .invalid("max_attempts", "max_attempts must be 1–100") }
        switch (cron, everySeconds) {
        case (nil, nil), (.some, .some):
            throw .invalid("cron", "set exactly one of cron and every_seconds")
        case (.some(let text), nil):
            let expression: CronExpression
            do { expression = try CronExpression(text) } catch let error as SwitchboardError { throw error } catch {
                throw .invalid("cron", "invalid cron expression")
            }
            // "0 0 30 2 *" parses but never fires; the scheduler would search years for it on every tick.
            guard expression.next(after: Date(), in: .gmt) != nil else {
                throw .invalid("cron", "cron expression '\(text)' never fires")
            }
        case (nil, .some(let seconds)):
            guard (Self.minimumInterval...Self.maximumInterval).contains(seconds) else {
                throw .invalid(
                    "every_seconds", "every_seconds must be \(Self.minimumInterval)–\(Self.maximumInterval) (use cron for longer cycles)")
            }
        }
    }
}
