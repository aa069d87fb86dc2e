import Synchronization

/// Values that arrive by key, for tasks that wait for them with a deadline — in either order:
/// a value that comes before its waiter is kept until the waiter asks (only for keys announced
/// with ``expect(_:)``, so stray values never pile up).
final class Rendezvous<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Slot {
        var value: Value?
        var waiter: CheckedContinuation<Value?, Never>?
        /// Ends the wait at its deadline; cancelled when the value comes first.
        var timer: Task<Void, Never>?
    }

    private let slots = Mutex<[Key: Slot]>([:])

    /// Announces that a value for `key` will be waited for.
    func expect(_ key: Key) {
        slots.withLock { slots in
            if slots[key] == nil { slots[key] = Slot() }
        }
    }

    /// Hands `value` to the waiter of `key` (or keeps it for one); ignored for an unannounced key.
    func fulfil(_ key: Key, _ value: Value) {
        let waiting = slots.withLock { slots -> Slot? in
            guard var slot = slots[key] else { return nil }
            if slot.waiter != nil {
                slots[key] = nil
                return slot
            }
            slot.value = value
            slots[key] = slot
            return nil
        }
        waiting?.timer?.cancel()
        waiting?.waiter?.resume(returning: value)
    }

    /// The value for `key` (announced before), or `nil` after `timeout`; forgets the key either way.
    func wait(_ key: Key, timeout: Duration) async -> Value? {
        await withCheckedContinuation { continuation in
            let (done, ready, replaced) = slots.withLock { slots -> (Bool, Value?, CheckedContinuation<Value?, Never>?) in
                guard var slot = slots[key] else { return (true, nil, nil) }
                if let value = slot.value {
                    slots[key] = nil
                    return (true, value, nil)
                }
                let replaced = slot.waiter
                slot.waiter = continuation
                slots[key] = slot
                return (false, nil, replaced)
            }
            replaced?.resume(returning: nil)
            if done { return continuation.resume(returning: ready) }
            let timer = Task {
                do { try await Task.sleep(for: timeout) } catch { return }
                self.cancel(key)
            }
            let kept = slots.withLock { slots in
                guard slots[key]?.waiter != nil else { return false }
                slots[key]?.timer = timer
                return true
            }
            if !kept { timer.cancel() }
        }
    }

    /// Ends the wait for `key` with `nil`, if one is still waiting.
    func cancel(_ key: Key) {
        let slot = slots.withLock { $0.removeValue(forKey: key) }
        slot?.timer?.cancel()
        slot?.waiter?.resume(returning: nil)
    }

    /// Ends every wait with `nil` and forgets every key.
    func cancelAll() {
        let waiters = slots.withLock { slots in
            defer { slots.removeAll() }
            return Array(slots.values)
        }
        for slot in waiters {
            slot.timer?.cancel()
            slot.waiter?.resume(returning: nil)
        }
    }
}
