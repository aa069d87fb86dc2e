import P2PCore
import Transport

/// What the paths tell about themselves: the last attempt per peer, path events, and snapshots
/// with round-trip time and loss (``P2PClient/paths()``, ``P2PClient/pathEvents``).
extension DirectPaths {
    /// How one half of an attempt (LAN dials, or the UDP punch) ended.
    struct AttemptResult: Sendable {
        var succeeded: Bool
        var detail: String
    }

    /// Peers whose last attempt is remembered at once (the oldest is forgotten first).
    static let maximumRememberedAttempts = 4096

    /// Records an attempt from its halves' results: the successful ones, else every failure.
    func attempted(_ peer: NodeID, _ kind: PathAttemptKind, _ results: [DirectPathKind: AttemptResult]) {
        let ordered = [DirectPathKind.lan, .udp].compactMap { kind in results[kind].map { (kind, $0) } }
        let succeeded = ordered.filter { $0.1.succeeded }
        let shown = succeeded.isEmpty ? ordered : succeeded
        let reason = shown.map { kind, result in ordered.count > 1 ? "\(kind.rawValue.uppercased()): \(result.detail)" : result.detail }
        attempted(peer, kind, succeeded: !succeeded.isEmpty, reason: reason.joined(separator: "; "))
    }

    func attempted(_ peer: NodeID, _ kind: PathAttemptKind, succeeded: Bool, reason: String) {
        lastAttempts[peer] = PathAttempt(ended: .now, kind: kind, succeeded: succeeded, reason: reason)
        if lastAttempts.count > Self.maximumRememberedAttempts,
           let oldest = lastAttempts.min(by: { $0.value.ended < $1.value.ended })?.key {
            lastAttempts[oldest] = nil
        }
        // A success shows as the path coming up; a failure that leaves the path as it was is
        // an event of its own.
        if !succeeded { events.yield(PathEvent(peer: peer, path: PeerPathKind(best(to: peer)?.kind), reason: "direct attempt failed: \(reason)")) }
    }

    /// A path to `peer` came up or went down: tells the subscribers what the peer's path is now.
    func pathChanged(_ peer: NodeID, _ reason: String) {
        let path = best(to: peer)
        events.yield(PathEvent(peer: peer, path: PeerPathKind(path?.kind), reason: reason, rtt: path?.probe.rtt))
    }

    /// Every peer with a direct path or a remembered attempt, by id.
    func snapshot() -> [PeerPath] {
        let peers = Set(paths.keys).union(lastAttempts.keys)
        return peers.sorted().map { peer in
            let path = best(to: peer)
            return PeerPath(peer: peer, path: PeerPathKind(path?.kind), rtt: path?.probe.rtt, loss: path?.probe.loss, lastAttempt: lastAttempts[peer])
        }
    }
}
