import P2PCore

extension P2PClient {
    /// Path events from now on: a direct path to a peer came up or went down, or an attempt at
    /// one failed, with the peer's path after it, why, and the round-trip time when direct.
    /// Each access subscribes anew (any number of subscribers); a subscriber that does not keep
    /// up loses its oldest events. Finishes when the client shuts down (at once when direct
    /// tunnels are off).
    public var pathEvents: AsyncStream<PathEvent> {
        guard let direct = engine.direct else { return AsyncStream { $0.finish() } }
        return direct.events.subscribe()
    }

    /// Every peer this client has a direct path to or attempted one to: the path messages take
    /// now, its round-trip time and loss when direct, and the last attempt.
    public func paths() async -> [PeerPath] {
        await engine.direct?.snapshot() ?? []
    }
}
