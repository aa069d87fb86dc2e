import Synchronization

/// A ``LinkListener``'s count of handshakes in progress and established links, in all and per
/// remote IP address, against the caps of its ``LinkConfiguration``.
///
/// The cap on handshakes in all is a concurrency limit, not a refusal: the accept loop waits for
/// a free slot (``waitForHandshakeSlot(from:)``), and connections beyond it wait in the kernel's
/// listen queue (bounded by ``LinkConfiguration/listenBacklog``), where they cost this process
/// nothing. Closing them instead only made their clients dial again, adding to the storm.
final class ListenerAdmissions: Sendable {
    private struct State {
        var pending = 0
        var pendingByHost: [String: Int] = [:]
        var links = 0
        var linksByHost: [String: Int] = [:]
        /// The accept loop, waiting for a handshake slot for this host (one waiter at most: the
        /// loop takes one connection at a time).
        var waiter: (host: String, continuation: CheckedContinuation<Void, Never>)?
    }

    private let maximumPending: Int
    private let maximumPendingPerHost: Int
    private let maximumLinks: Int
    private let maximumLinksPerHost: Int
    private let state = Mutex(State())

    init(configuration: LinkConfiguration) {
        maximumPending = configuration.maximumPendingHandshakes
        maximumPendingPerHost = configuration.maximumPendingHandshakesPerHost
        maximumLinks = configuration.maximumLinks
        maximumLinksPerHost = configuration.maximumLinksPerHost
    }

    /// Counts a new connection from `host` as a pending handshake, first waiting while
    /// ``LinkConfiguration/maximumPendingHandshakes`` are in progress; throws
    /// ``TransportError/overloaded(_:)`` at once (counting nothing) if `host` is at its own cap, so
    /// that one address cannot hold up everyone else's connections. Called by one task at a time.
    func waitForHandshakeSlot(from host: String) async throws {
        let counted = try state.withLock { state -> Bool in
            guard state.pendingByHost[host, default: 0] < maximumPendingPerHost else {
                throw TransportError.overloaded("\(maximumPendingPerHost) handshakes already in progress from \(host)")
            }
            guard state.pending >= maximumPending else {
                state.pending += 1
                state.pendingByHost[host, default: 0] += 1
                return true
            }
            return false
        }
        if counted { return }
        // A slot frees within the handshake timeout: every counted handshake has one.
        await withCheckedContinuation { continuation in
            let resume = state.withLock { state -> Bool in
                if state.pending < maximumPending {
                    state.pending += 1
                    state.pendingByHost[host, default: 0] += 1
                    return true
                }
                state.waiter = (host, continuation)
                return false
            }
            if resume { continuation.resume() }
        }
    }

    /// Turns `host`'s pending handshake into an established link; throws
    /// ``TransportError/overloaded(_:)`` (leaving the handshake counted) if a link cap is reached.
    func establish(from host: String) throws {
        try state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.links < maximumLinks else {
                throw TransportError.overloaded("\(maximumLinks) links already established; refused one from \(host)")
            }
            guard state.linksByHost[host, default: 0] < maximumLinksPerHost else {
                throw TransportError.overloaded("\(maximumLinksPerHost) links already established from \(host)")
            }
            Self.decrement(&state.pending, &state.pendingByHost, host)
            state.links += 1
            state.linksByHost[host, default: 0] += 1
            return handOverSlot(&state)
        }?.resume()
    }

    /// Uncounts `host`'s connection once it is closed: a link if ``establish(from:)`` succeeded,
    /// else a pending handshake.
    func end(from host: String, established: Bool) {
        state.withLock { state -> CheckedContinuation<Void, Never>? in
            if established {
                Self.decrement(&state.links, &state.linksByHost, host)
                return nil
            }
            Self.decrement(&state.pending, &state.pendingByHost, host)
            return handOverSlot(&state)
        }?.resume()
    }

    /// Counts the waiting accept loop's handshake if a slot is free; its continuation, to resume
    /// outside the lock.
    private func handOverSlot(_ state: inout State) -> CheckedContinuation<Void, Never>? {
        guard let waiter = state.waiter, state.pending < maximumPending else { return nil }
        state.waiter = nil
        state.pending += 1
        state.pendingByHost[waiter.host, default: 0] += 1
        return waiter.continuation
    }

    /// Whether the accept loop waits for a handshake slot (for tests).
    var hasWaiter: Bool {
        state.withLock { $0.waiter != nil }
    }

    /// Handshakes in progress and established links, for tests and status.
    var counts: (pending: Int, links: Int) {
        state.withLock { ($0.pending, $0.links) }
    }

    private static func decrement(_ total: inout Int, _ byHost: inout [String: Int], _ host: String) {
        total -= 1
        let remaining = byHost[host, default: 0] - 1
        byHost[host] = remaining > 0 ? remaining : nil
    }
}
