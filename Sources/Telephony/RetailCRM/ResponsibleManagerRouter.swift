import Access
import Foundation
import Jobs
import RetailCRM
import Storage
import Synchronization
import SwitchboardCore

/// The seed's smart redirect: for an inbound caller, the extension of the customer's responsible
/// manager in RetailCRM (`telephony/manager`), so the dialplan (or an AMI `Redirect`) rings that
/// manager first.
///
/// A ringing caller must never wait on the CRM: every answer comes within the time budget — from the
/// cache, from RetailCRM, or "no route" when RetailCRM is slower, while the lookup goes on in the
/// background and fills the cache for the next call. Answers are cached per tenant and phone
/// (`ttl` when a manager was found, `emptyTTL` when not).
public actor ResponsibleManagerRouter {
    /// Where to send the call, and why.
    public struct Route: Sendable, Equatable, Encodable {
        /// The manager's extension; nil: no route, let the dialplan go on as usual.
        public var extensionNumber: String?
        public var managerID: Int?
        public var managerName: String?
        /// `cache`, `crm`, or `none`.
        public var source: String
        /// Why there is no route (`no_customer`, `no_manager`, `unmapped_manager`, `timeout`, `crm_error: …`).
        public var reason: String?

        public init(extensionNumber: String? = nil, managerID: Int? = nil, managerName: String? = nil, source: String, reason: String? = nil) {
            self.extensionNumber = extensionNumber
            self.managerID = managerID
            self.managerName = managerName
            self.source = source
            self.reason = reason
        }

        enum CodingKeys: String, CodingKey {
            case extensionNumber = "extension", managerID = "manager_id", managerName = "manager_name", source, reason
        }
    }

    public typealias Lookup = @Sendable (_ integration: Integration, _ phone: String) async throws -> RetailCRMResponsibleManager?

    private struct Cached {
        var route: Route
        var at: ContinuousClock.Instant
    }

    let ttl: Duration
    let emptyTTL: Duration
    let maxEntries: Int
    private let lookup: Lookup
    private let stores: Stores
    private var cache: [String: Cached] = [:]
    private var inflight: [String: Task<Route, Never>] = [:]
    /// Bumped by every invalidation: a lookup that started before one must not be cached after it.
    private var generation = 0

    public init(stores: Stores, ttl: Duration = .seconds(600), emptyTTL: Duration = .seconds(120), maxEntries: Int = 50_000, lookup: @escaping Lookup) {
        self.stores = stores
        self.ttl = ttl
        self.emptyTTL = emptyTTL
        self.maxEntries = maxEntries
        self.lookup = lookup
    }

    /// Over a tenant's RetailCRM account, through its breaker and rate limit.
    public init(access: RetailCRMAccess) {
        self.init(stores: Stores(access.database, secrets: access.secrets)) { integration, phone in
            let client = access.client(integration, event: "telephony.route", timeout: .seconds(5))
            return try await access.guarded(tenantID: integration.tenantID, lane: .telephony) { try await client.responsibleManager(phone: phone) }
        }
    }

    /// The route for `phone` (E.164) within `budget`.
    public func route(_ integration: Integration, phone: String, budget: Duration) async -> Route {
        let key = integration.tenantID + "|" + phone
        if let hit = cache[key], ContinuousClock.now - hit.at < (hit.route.extensionNumber == nil ? emptyTTL : ttl) {
            var route = hit.route
            route.source = "cache"
            return route
        }
        let task = inflight[key] ?? startLookup(key: key, integration: integration, phone: phone)
        return await Self.value(of: task, within: budget) ?? Route(source: "none", reason: "timeout")
    }

    /// The task's value if it comes within `budget`, else nil — without waiting for the task (a task
    /// group would wait for its children, and so for the slow CRM).
    static func value(of task: Task<Route, Never>, within budget: Duration) async -> Route? {
        let answered = FirstClaim()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Route?, Never>) in
            let timer = Task {
                try? await Task.sleep(for: budget)
                if answered.claim() { continuation.resume(returning: nil) }
            }
            Task {
                let route = await task.value
                if answered.claim() {
                    timer.cancel()
                    continuation.resume(returning: route)
                }
            }
        }
    }

    /// Drops the tenant's cached routes (its manager mapping changed).
    public func invalidate(tenantID: String? = nil) {
        generation += 1
        inflight.removeAll()
        cache = tenantID.map { tenant in cache.filter { !$0.key.hasPrefix(tenant + "|") } } ?? [:]
    }

    private func startLookup(key: String, integration: Integration, phone: String) -> Task<Route, Never> {
        let (lookup, stores, started) = (lookup, stores, generation)
        let task = Task<Route, Never> {
            let route: Route
            var keep = true
            do {
                let answer = try await lookup(integration, phone)
                route = try await Self.route(answer, tenantID: integration.tenantID, stores: stores)
            } catch {
                route = Route(source: "none", reason: "crm_error: \((error as? JobFailure)?.message ?? "\(error)")")
                keep = false  // not cached: the next call asks again
            }
            self.finished(key, route, keep: keep, generation: started)
            return route
        }
        inflight[key] = task
        return task
    }

    private func finished(_ key: String, _ route: Route, keep: Bool, generation started: Int) {
        guard started == generation else { return }  // invalidated meanwhile: the answer may be stale
        inflight[key] = nil
        guard keep else { return }
        if cache.count >= maxEntries { cache.removeAll() }
        cache[key] = Cached(route: route, at: .now)
    }

    /// The manager's extension: RetailCRM's own code for the manager, else the tenant's mapping.
    static func route(_ answer: RetailCRMResponsibleManager?, tenantID: String, stores: Stores) async throws -> Route {
        guard let answer, answer.customer != nil || answer.manager != nil else { return Route(source: "crm", reason: "no_customer") }
        guard let manager = answer.manager else { return Route(source: "crm", reason: "no_manager") }
        let name = [manager.firstName, manager.lastName].compactMap { $0 }.joined(separator: " ")
        // The code goes into a dialplan (`Dial`, `Redirect`): only an extension's characters, never a channel string.
        var number = manager.code.flatMap { PhoneNumber.isExtensionCode($0) ? $0 : nil }
        if number == nil {
            number = try await stores.managers.list(tenantID: tenantID, integration: .retailcrm).first { $0.crmUserID == String(manager.id) }?.extensionNumber
        }
        return Route(
            extensionNumber: number, managerID: manager.id, managerName: name.isEmpty ? nil : name, source: "crm",
            reason: number == nil ? "unmapped_manager" : nil)
    }
}

/// True for the first caller of `claim()` only: whichever of two racers resumes a continuation.
final class FirstClaim: Sendable {
    private let claimed = Mutex(false)

    func claim() -> Bool {
        claimed.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
