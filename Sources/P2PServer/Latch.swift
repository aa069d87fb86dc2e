import Synchronization

/// A value that becomes available once (the replica, once the cluster formed; the server's
/// endpoint, once attached), and the callers waiting for it: resumed when it is set, with `nil`
/// at their timeout, on cancellation, or when the latch closes (the server stops).
final class Latch<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var closed = false
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Value?, Never>] = [:]
    }

    private let state = Mutex(State())

    /// The value, if set and not closed.
    var value: Value? { state.withLock { $0.value } }

    /// Sets the value and resumes every waiter with it.
    func set(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>] in
            guard !state.closed else { return [] }
            state.value = value
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// Clears the value for good and resumes every waiter with `nil`; returns the value it held.
    @discardableResult
    func close() -> Value? {
        let (value, waiters) = state.withLock { state in
            state.closed = true
            defer {
                state.value = nil
                state.waiters.removeAll()
            }
            return (state.value, Array(state.waiters.values))
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        return value
    }

    /// The value, once set; `nil` after `timeout` (`nil`: none), on cancellation, or once closed.
    func wait(timeout: Duration? = nil) async -> Value? {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let timer = timeout.map { timeout in
            Task { [weak self] in
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                self?.resume(id, with: nil)
            }
        }
        defer { timer?.cancel() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> (Bool, Value?) in
                    if state.value != nil || state.closed || Task.isCancelled { return (true, state.value) }
                    state.waiters[id] = continuation
                    return (false, nil)
                }
                if ready.0 { continuation.resume(returning: ready.1) }
            }
        } onCancel: {
            resume(id, with: nil)
        }
    }

    private func resume(_ id: UInt64, with value: Value?) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: value)
    }
}
