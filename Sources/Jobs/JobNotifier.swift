/// In-process wake-ups: an enqueue or a finished job wakes waiting workers at once instead of at
/// their next poll. Across processes the poll (and, later, PostgreSQL NOTIFY) does the same.
public actor JobNotifier {
    private var signals: [ObjectIdentifier: WakeSignal] = [:]

    public init() {}

    func register(_ signal: WakeSignal) { signals[ObjectIdentifier(signal)] = signal }
    func unregister(_ signal: WakeSignal) { signals[ObjectIdentifier(signal)] = nil }

    public func notifyAll() async {
        for signal in signals.values { await signal.signal() }
    }
}

/// A wake-up: `signal()` releases every waiter, or, with none waiting, makes the next wait return at once.
/// A cancelled waiter returns at once too (a stopping worker must not wait for a signal that never comes).
public actor WakeSignal {
    private var pending = false
    private var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    private var nextWaiter = 0

    public init() {}

    public func signal() {
        if waiters.isEmpty {
            pending = true
        } else {
            let released = waiters.values
            waiters.removeAll()
            released.forEach { $0.resume() }
        }
    }

    public func wait() async {
        if pending {
            pending = false
            return
        }
        let id = nextWaiter
        nextWaiter += 1
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { continuation.resume() } else { waiters[id] = continuation }
            }
        } onCancel: {
            Task { await self.release(id) }
        }
    }

    private func release(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume()
    }

    /// Waits for a signal or `timeout`, whichever comes first.
    public nonisolated func wait(timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Cancelled means a signal came first: signalling now would leave a stale wake-up behind,
                // and every later wait would return at once — the worker would spin on an idle queue.
                do { try await Task.sleep(for: timeout) } catch { return }
                await self.signal()
            }
            await self.wait()
            group.cancelAll()
        }
    }
}
