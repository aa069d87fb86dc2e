/// Callers waiting for a result by key, each until a deadline counted in Raft ticks (the
/// replica's clock): a proposal forwarded to a leader that dropped it, or a read lost with its
/// leader, is failed when its deadline passes, and the caller retries.
struct TickWaiters<Value: Sendable> {
    private var waiting: [UInt64: (deadline: UInt64, continuation: CheckedContinuation<Value, any Error>)] = [:]

    var count: Int { waiting.count }

    mutating func add(_ key: UInt64, deadline: UInt64, _ continuation: CheckedContinuation<Value, any Error>) {
        waiting[key] = (deadline, continuation)
    }

    /// Hands `value` to the waiter of `key`, if there is one.
    mutating func resume(_ key: UInt64, returning value: Value) {
        waiting.removeValue(forKey: key)?.continuation.resume(returning: value)
    }

    /// Fails the waiters whose deadline is `tick` or earlier.
    mutating func expire(at tick: UInt64, with error: any Error) {
        for (key, waiter) in waiting where waiter.deadline <= tick {
            waiting[key] = nil
            waiter.continuation.resume(throwing: error)
        }
    }

    mutating func failAll(_ error: any Error) {
        let all = waiting.values
        waiting.removeAll()
        for waiter in all { waiter.continuation.resume(throwing: error) }
    }
}

/// Callers waiting until the replica applied an index: resumed (`true`) as soon as apply
/// reaches it, or (`false`) at their deadline or when the replica stops.
struct AppliedIndexNotifier {
    private var waiting: [UInt64: (index: UInt64, continuation: CheckedContinuation<Bool, Never>, timer: Task<Void, Never>?)] = [:]
    private var nextID: UInt64 = 0

    /// Registers a waiter for `index`; returns its id (for ``expire(_:)``).
    mutating func add(_ index: UInt64, _ continuation: CheckedContinuation<Bool, Never>) -> UInt64 {
        nextID += 1
        waiting[nextID] = (index, continuation, nil)
        return nextID
    }

    /// Attaches the task that expires waiter `id` (cancelled when the waiter resumes first).
    mutating func setTimer(_ timer: Task<Void, Never>, for id: UInt64) {
        guard waiting[id] != nil else { return timer.cancel() }
        waiting[id]?.timer = timer
    }

    /// Resumes every waiter for `applied` or an earlier index.
    mutating func advance(to applied: UInt64) {
        guard !waiting.isEmpty else { return }
        for (id, waiter) in waiting where waiter.index <= applied {
            waiting[id] = nil
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: true)
        }
    }

    /// Its deadline passed: waiter `id` resumes with `false`.
    mutating func expire(_ id: UInt64) {
        waiting.removeValue(forKey: id)?.continuation.resume(returning: false)
    }

    mutating func failAll() {
        let all = waiting.values
        waiting.removeAll()
        for waiter in all {
            waiter.timer?.cancel()
            waiter.continuation.resume(returning: false)
        }
    }
}
