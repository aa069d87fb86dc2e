import Synchronization

/// Runs `action` once after `timeout` unless cancelled first, and remembers whether it did
/// (to tell a connection the server closed from one the attacker gave up on).
final class Watchdog: Sendable {
    private final class Flag: Sendable {
        let value = Atomic(false)
    }

    private let flag = Flag()
    private let task: Task<Void, Never>

    init(after timeout: Duration, _ action: @escaping @Sendable () -> Void) {
        let flag = self.flag
        task = Task {
            do { try await Task.sleep(for: timeout) } catch { return }
            flag.value.store(true, ordering: .sequentiallyConsistent)
            action()
        }
    }

    /// Whether `action` ran.
    var fired: Bool { flag.value.load(ordering: .sequentiallyConsistent) }

    func cancel() {
        task.cancel()
    }
}
