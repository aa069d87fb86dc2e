import NIOCore
import ReliableDatagram

/// What a ``UDPTunnel`` tracks, behind its lock.
struct UDPTunnelState: Sendable {
    var session: ReliableDatagramSession
    /// This tunnel's incarnation and the peer's, stamped on every datagram.
    var incarnations: UDPTunnelIncarnations
    /// Bytes of the peer's frame stream not yet decoded into frames.
    var received = ByteBuffer()
    /// When the last datagram of any kind came from the peer, and whether its silence since
    /// proves it gone.
    var silence: PeerSilence
    /// When the last datagram went to the peer.
    var lastSent: NIODeadline
    /// The next run of ``UDPTunnel/tick()``, and when it is due.
    var timer: Scheduled<Void>?
    var timerDue: NIODeadline?
    /// Whether a tick is already queued on the event loop to flush new data or acknowledgements.
    var flushRequested = false
    var isClosed = false
    /// Ticks run so far (for tests: an idle tunnel must not spin).
    var ticks = 0
    /// Writers waiting for the send queue to drain below its limit.
    var waitingWriters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    var nextWriter: UInt64 = 0

    init(session: ReliableDatagramSession, incarnations: UDPTunnelIncarnations, now: NIODeadline) {
        self.session = session
        self.incarnations = incarnations
        silence = PeerSilence(heardAt: now)
        lastSent = now
    }

    /// Asks for a flush; true if the caller must queue the tick (none is queued yet).
    mutating func requestFlush() -> Bool {
        guard !flushRequested else { return false }
        flushRequested = true
        return true
    }
}
