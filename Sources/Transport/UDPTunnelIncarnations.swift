/// Which datagrams belong to one incarnation of a tunnel (see ``UDPTunnelDatagram``).
struct UDPTunnelIncarnations: Equatable, Sendable {
    /// This tunnel's incarnation, never 0.
    let local: UInt32
    /// The peer's incarnation, once a segment from it was taken.
    private(set) var peer: UInt32?

    init(local: UInt32) {
        self.local = local
    }

    /// A fresh random incarnation.
    static func random() -> UDPTunnelIncarnations {
        UDPTunnelIncarnations(local: UInt32.random(in: 1...UInt32.max))
    }

    /// What goes in the `receiver` field of what this tunnel sends.
    var receiverStamp: UInt32 { peer ?? 0 }

    /// Whether a segment stamped `sender` → `receiver` is taken: it is meant for this incarnation
    /// (or the peer has not heard from it yet), and comes from the peer incarnation already
    /// learned, if any. A segment meant for an earlier tunnel of ours is refused even before a
    /// peer is learned: that is the stale traffic the stamps exist to keep out.
    func admitsSegment(sender: UInt32, receiver: UInt32) -> Bool {
        guard sender != 0, receiver == 0 || receiver == local else { return false }
        return peer.map { $0 == sender } ?? true
    }

    /// Whether a keepalive or goodbye stamped `sender` → `receiver` is taken: only from the
    /// learned peer incarnation (before that, there is nothing to keep alive or to close).
    func admitsControl(sender: UInt32, receiver: UInt32) -> Bool {
        guard let peer, sender == peer else { return false }
        return receiver == 0 || receiver == local
    }

    /// Learns the peer's incarnation from a segment the session accepted.
    mutating func learn(peer sender: UInt32) {
        if peer == nil { peer = sender }
    }
}
