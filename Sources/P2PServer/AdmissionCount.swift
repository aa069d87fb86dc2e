import Synchronization

/// Counts things in progress, in total and per remote host, against two caps.
final class AdmissionCount: Sendable {
    private let total: Int
    private let perHost: Int
    private let state = Mutex<(count: Int, hosts: [String: Int])>((0, [:]))

    init(total: Int, perHost: Int) {
        self.total = total
        self.perHost = perHost
    }

    /// Counts one more for `host`; `false` (nothing counted) when a cap is reached.
    func admit(_ host: String) -> Bool {
        state.withLock { state in
            guard state.count < total, state.hosts[host, default: 0] < perHost else { return false }
            state.count += 1
            state.hosts[host, default: 0] += 1
            return true
        }
    }

    /// Counts one fewer for `host`.
    func release(_ host: String) {
        state.withLock { state in
            guard let current = state.hosts[host] else { return }
            state.count -= 1
            state.hosts[host] = current > 1 ? current - 1 : nil
        }
    }
}
