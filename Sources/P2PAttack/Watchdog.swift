import Synchronization

/// Runs `action` once after `timeout` unless cancelled first, and remembers whether it did
/// (to tell a connection the server closed from one the attacker gave up on).
final class Watchdog: Sendable {
    private let state = Mutex(false)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(after timeout: Duration, _ action: @escaping @Sendable () -> Void) {
        let started = Task { [state] in
            do { try await Task.sleep(for: timeout) } catch { return }
            state.withLock { $0 = true }
            action()
        }
        task.withLock { $0 = started }
    }

    /// Whether `action` ran.
    var fired: Bool { state.withLock { $0 } }

    func cancel() {
        task.withLock { $0?.cancel() }
    }
}
