import Synchronization

/// A link's requests in flight (being committed), bounded: the link's reader enters before it
/// takes a request on and waits while the bound is reached, so a client can slow down only itself.
final class InFlightGauge: Sendable {
    private struct State {
        var count = 0
        var reader: CheckedContinuation<Void, Never>?
    }

    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Counts one more request, first waiting until fewer than ``limit`` are in flight (one
    /// reader at a time).
    func enter() async {
        if state.withLock({ state in
            guard state.count < limit else { return false }
            state.count += 1
            return true
        }) { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let entered = state.withLock { state in
                guard state.count >= limit else {
                    state.count += 1
                    return true
                }
                state.reader = continuation
                return false
            }
            if entered { continuation.resume() }
        }
    }

    /// `count` requests finished; a waiting reader goes on if there is room now.
    func leave(_ count: Int) {
        let reader: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.count = max(0, state.count - count)
            guard state.count < limit, let reader = state.reader else { return nil }
            state.reader = nil
            state.count += 1
            return reader
        }
        reader?.resume()
    }
}
