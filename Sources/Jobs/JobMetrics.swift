import Foundation
import Metrics
import SwitchboardCore

/// Job latency histograms and outcome counters through swift-metrics (served by `/metrics` when the
/// process bootstraps Prometheus; no-ops otherwise). Labelled by kind, a small fixed set.
enum JobMetrics {
    /// Queue latency: from when the job became due (`run_at`) to when a worker started it.
    static func recordWait(_ job: Job) {
        let wait = max(0, Date().timeIntervalSince(job.runAt))
        Timer(label: "switchboard_job_wait_seconds", dimensions: [("kind", job.kind)])
            .recordNanoseconds(Int64(wait * 1e9))
    }

    /// Run time of one attempt and its outcome (`succeeded`, `retryable`, `dead`, …).
    static func recordRun(kind: String, outcome: String, duration: Duration) {
        Timer(label: "switchboard_job_run_seconds", dimensions: [("kind", kind)])
            .recordNanoseconds(Int64(duration.wholeMicroseconds) * 1000)
        Counter(label: "switchboard_job_attempts_total", dimensions: [("kind", kind), ("outcome", outcome)]).increment()
    }
}
