import SwitchboardCore

/// Group commit for job completions: while one batch is being written, finished jobs queue up and go
/// in the next single `UPDATE`. An idle worker writes each completion at once (no added latency); a
/// busy one writes one statement per batch instead of one per job.
actor CompletionBatcher {
    private struct Pending {
        let id: String
        let result: JSONValue?
        let continuation: CheckedContinuation<Bool, any Error>
    }

    private let queue: JobQueue
    private let owner: String
    private let maxBatch: Int
    private var pending: [Pending] = []
    private var flushing = false

    init(queue: JobQueue, owner: String, maxBatch: Int = 500) {
        self.queue = queue
        self.owner = owner
        self.maxBatch = maxBatch
    }

    /// Records the job as succeeded; returns false when the worker had lost its lease.
    func complete(id: String, result: JSONValue?) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(id: id, result: result, continuation: continuation))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            do {
                let recorded = try await queue.complete(batch.map { ($0.id, $0.result) }, owner: owner)
                for item in batch { item.continuation.resume(returning: recorded.contains(item.id)) }
            } catch {
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
        flushing = false
    }
}
