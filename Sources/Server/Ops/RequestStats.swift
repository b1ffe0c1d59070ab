import Foundation
import Prometheus
import Synchronization

/// Counters behind `/stats` (per tenant) and `/metrics` (Prometheus).
public final class RequestStats: Sendable {
    /// Per-tenant request counters as shown by `/stats`.
    public struct TenantCounters: Sendable, Encodable {
        public var requests = 0
        public var clientErrors = 0
        public var serverErrors = 0
    }

    public let registry: PrometheusCollectorRegistry
    public let startedAt = Date()
    private let counters = Mutex<[String: TenantCounters]>([:])
    private let totals = Mutex(TenantCounters())

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    /// Records one finished request. `route` is the matched route template, never the raw path,
    /// so ids in URLs do not explode metric cardinality.
    func record(method: String, route: String, status: Int, duration: Duration, tenantSlug: String?) {
        let labels = [("method", method), ("route", route), ("status", String(status))]
        registry.makeCounter(
            descriptor: .init(metricName: "http_requests", unitName: "total", helpText: "HTTP requests handled"),
            labels: labels
        ).increment()
        registry.makeDurationHistogram(
            descriptor: .init(metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency"),
            labels: [("method", method), ("route", route)],
            buckets: [.milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5)]
        ).record(duration)
        func bump(_ counters: inout TenantCounters) {
            counters.requests += 1
            if (400..<500).contains(status) { counters.clientErrors += 1 }
            if status >= 500 { counters.serverErrors += 1 }
        }
        totals.withLock { bump(&$0) }
        if let tenantSlug { counters.withLock { bump(&$0[tenantSlug, default: TenantCounters()]) } }
    }

    public func snapshot() -> (totals: TenantCounters, tenants: [String: TenantCounters]) {
        (totals.withLock { $0 }, counters.withLock { $0 })
    }
}
