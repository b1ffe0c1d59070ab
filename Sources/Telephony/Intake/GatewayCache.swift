import Foundation
import Storage
import SwitchboardCore

/// The seed's Integration Gateway cache: PBX token → tenant and the CRMs its calls go to, in memory,
/// so a PBX event costs no configuration queries.
///
/// Entries live `ttl` (90 s); a background refresh reloads them before they expire (jittered, so
/// instances do not reload in step) and a miss loads each token once however many events wait for it
/// (single-flight). Configuration writes drop the cache: directly in this process, and through
/// PostgreSQL `NOTIFY switchboard_config` in every other one. Unknown tokens are remembered briefly
/// (`negativeTTL`) so a flood of bad tokens does not become a flood of queries.
public actor GatewayCache {
    /// What an event needs to know about its tenant.
    public struct Entry: Sendable, Equatable {
        public var tenant: Tenant
        /// Enabled integrations that take calls.
        public var crmTargets: [IntegrationKind]

        public init(tenant: Tenant, crmTargets: [IntegrationKind]) {
            self.tenant = tenant
            self.crmTargets = crmTargets
        }
    }

    /// Counters for `/stats`.
    public struct Stats: Sendable, Encodable, Equatable {
        public var entries: Int
        public var hits: Int
        public var misses: Int
        public var hitRatio: Double
        public var loads: Int
        public var loadErrors: Int
        public var refreshes: Int
        public var invalidations: Int
        public var lastLoadMs: Double?
        public var averageLoadMs: Double?
        public var ttlSeconds: Int
    }

    public typealias Loader = @Sendable (String) async throws -> Entry?

    private struct Cached {
        var entry: Entry?
        var loadedAt: ContinuousClock.Instant
    }

    public let ttl: Duration
    public let negativeTTL: Duration
    public let maxEntries: Int
    private let load: Loader
    private var cached: [String: Cached] = [:]
    private var inflight: [String: Task<Entry?, any Error>] = [:]
    /// Bumped by every invalidation: a load that started before one must not be cached after it.
    private var generation = 0
    private var hits = 0, misses = 0, loads = 0, loadErrors = 0, refreshes = 0, invalidations = 0
    private var lastLoad: Duration?
    private var totalLoad: Duration = .zero

    public init(ttl: Duration = .seconds(90), negativeTTL: Duration = .seconds(5), maxEntries: Int = 100_000, load: @escaping Loader) {
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.maxEntries = maxEntries
        self.load = load
    }

    /// The cache over the database: the tenant by PBX token and its enabled call targets.
    public init(stores: Stores, ttl: Duration = .seconds(90)) {
        self.init(ttl: ttl) { token in
            guard let tenant = try await stores.tenants.find(pbxToken: token) else { return nil }
            let targets = try await CallIntake.targets(tenantID: tenant.id, integrations: stores.integrations)
            return Entry(tenant: tenant, crmTargets: targets)
        }
    }

    /// The tenant for `token`, or nil when no live tenant has it.
    public func lookup(token: String) async throws -> Entry? {
        if let hit = cached[token], ContinuousClock.now - hit.loadedAt < lifetime(hit.entry) {
            hits += 1
            return hit.entry
        }
        misses += 1
        return try await loadOnce(token)
    }

    private func lifetime(_ entry: Entry?) -> Duration { entry == nil ? negativeTTL : ttl }

    private func loadOnce(_ token: String) async throws -> Entry? {
        // Keyed with the generation: a lookup after an invalidation never joins a load from before it.
        let flight = "\(generation)|" + token
        if let running = inflight[flight] { return try await running.value }
        let load = self.load
        let started = ContinuousClock.now
        let startedGeneration = generation
        let task = Task { try await load(token) }
        inflight[flight] = task
        defer { inflight[flight] = nil }
        do {
            let entry = try await task.value
            record(load: ContinuousClock.now - started)
            if startedGeneration == generation { store(token, entry) }
            return entry
        } catch {
            loadErrors += 1
            throw error
        }
    }

    private func record(load elapsed: Duration) {
        loads += 1
        lastLoad = elapsed
        totalLoad += elapsed
    }

    private func store(_ token: String, _ entry: Entry?) {
        if cached.count >= maxEntries {
            let now = ContinuousClock.now
            cached = cached.filter { $0.value.entry != nil && now - $0.value.loadedAt < ttl }
            if cached.count >= maxEntries { cached.removeAll() }
        }
        cached[token] = Cached(entry: entry, loadedAt: .now)
    }

    /// Drops everything (`tenantID` nil) or one tenant's entries.
    public func invalidate(tenantID: String? = nil) {
        invalidations += 1
        generation += 1
        if let tenantID {
            cached = cached.filter { $0.value.entry?.tenant.id != tenantID }
        } else {
            cached.removeAll()
        }
    }

    /// Reloads the known tenants whose entries are older than `age` (the background refresh), so busy
    /// tokens never miss. Entries of tenants that went away are dropped; a failed load keeps the old one.
    public func refresh(olderThan age: Duration) async {
        let now = ContinuousClock.now
        cached = cached.filter { $0.value.entry != nil || now - $0.value.loadedAt < negativeTTL }
        let due = cached.filter { now - $0.value.loadedAt >= age }.map(\.key)
        for token in due {
            let startedGeneration = generation
            let started = ContinuousClock.now
            let entry: Entry?
            do {
                entry = try await load(token)
            } catch {
                loadErrors += 1
                continue
            }
            record(load: ContinuousClock.now - started)
            refreshes += 1
            guard startedGeneration == generation else { continue }
            cached[token] = entry.map { Cached(entry: $0, loadedAt: .now) }
        }
    }

    /// Runs the background refresh until cancelled: every half TTL, ± 20 % jitter.
    public func runRefresh() async {
        while !Task.isCancelled {
            let half = ttl.inSeconds / 2
            try? await Task.sleep(for: .seconds(half * Double.random(in: 0.8...1.2)))
            guard !Task.isCancelled else { return }
            await refresh(olderThan: .seconds(half))
        }
    }

    public func stats() -> Stats {
        let lookups = hits + misses
        return Stats(
            entries: cached.count, hits: hits, misses: misses, hitRatio: lookups == 0 ? 0 : Double(hits) / Double(lookups),
            loads: loads, loadErrors: loadErrors, refreshes: refreshes, invalidations: invalidations,
            lastLoadMs: lastLoad.map(Self.milliseconds), averageLoadMs: loads == 0 ? nil : Self.milliseconds(totalLoad) / Double(loads),
            ttlSeconds: Int(ttl.inSeconds))
    }

    private static func milliseconds(_ duration: Duration) -> Double { (duration.inSeconds * 1000 * 100).rounded() / 100 }
}
