import Synchronization

/// A ``LinkListener``'s count of handshakes in progress and established links, in all and per
/// remote IP address, against the caps of its ``LinkConfiguration``.
final class ListenerAdmissions: Sendable {
    private struct State {
        var pending = 0
        var pendingByHost: [String: Int] = [:]
        var links = 0
        var linksByHost: [String: Int] = [:]
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

    /// Counts a new connection from `host` as a pending handshake; throws
    /// ``TransportError/overloaded(_:)`` (counting nothing) if a cap is reached.
    func beginHandshake(from host: String) throws {
        try state.withLock { state in
            guard state.pending < maximumPending else {
                throw TransportError.overloaded("\(maximumPending) handshakes already in progress; closed a connection from \(host)")
            }
            guard state.pendingByHost[host, default: 0] < maximumPendingPerHost else {
                throw TransportError.overloaded("\(maximumPendingPerHost) handshakes already in progress from \(host)")
            }
            state.pending += 1
            state.pendingByHost[host, default: 0] += 1
        }
    }

    /// Turns `host`'s pending handshake into an established link; throws
    /// ``TransportError/overloaded(_:)`` (leaving the handshake counted) if a link cap is reached.
    func establish(from host: String) throws {
        try state.withLock { state in
            guard state.links < maximumLinks else {
                throw TransportError.overloaded("\(maximumLinks) links already established; refused one from \(host)")
            }
            guard state.linksByHost[host, default: 0] < maximumLinksPerHost else {
                throw TransportError.overloaded("\(maximumLinksPerHost) links already established from \(host)")
            }
            Self.decrement(&state.pending, &state.pendingByHost, host)
            state.links += 1
            state.linksByHost[host, default: 0] += 1
        }
    }

    /// Uncounts `host`'s connection once it is closed: a link if ``establish(from:)`` succeeded,
    /// else a pending handshake.
    func end(from host: String, established: Bool) {
        state.withLock { state in
            if established {
                Self.decrement(&state.links, &state.linksByHost, host)
            } else {
                Self.decrement(&state.pending, &state.pendingByHost, host)
            }
        }
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
