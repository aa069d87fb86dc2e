import NIOCore
import ReliableDatagram

/// What a ``UDPTunnel`` tracks, behind its lock.
struct UDPTunnelState: Sendable {
    var session: ReliableDatagramSession
    /// This tunnel's incarnation and the peer's, stamped on every datagram.
    var incarnations: UDPTunnelIncarnations
    /// Bytes of the peer's frame stream not yet decoded into frames.
    var received = ByteBuffer()
    /// When the last datagram of any kind came from the peer.
    var lastHeard: NIODeadline
    /// When the last datagram went to the peer.
    var lastSent: NIODeadline
    /// The next run of ``UDPTunnel/tick()``, and when it is due.
    var timer: Scheduled<Void>?
    var timerDue: NIODeadline?
    /// Until when a silence that ran out while this process was stalled is excused (see
    /// ``peerIsDead(now:deadAfter:stall:)``); cleared by anything heard from the peer.
    var stallGrace: NIODeadline?
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
        lastHeard = now
        lastSent = now
    }

    /// Something came from the peer at `now`.
    mutating func heard(at now: NIODeadline) {
        lastHeard = now
        stallGrace = nil
    }

    /// Whether nothing from the peer for `deadAfter` proves it gone. A tick that runs more than
    /// `stall` after it was due means this process did not run: the peer's datagrams may be
    /// waiting unread in the socket, queued behind this very tick. Such a verdict waits `stall`
    /// longer, once per silence, so the loop reads them first.
    mutating func peerIsDead(now: NIODeadline, deadAfter: TimeAmount, stall: TimeAmount) -> Bool {
        guard incarnations.peer != nil, now - lastHeard >= deadAfter else { return false }
        if stallGrace == nil, let timerDue, now - timerDue > stall {
            stallGrace = now + stall
        }
        guard let stallGrace else { return true }
        return now >= stallGrace
    }

    /// When the peer's silence is next due to be judged (nil until it was heard from at all).
    func silenceDeadline(deadAfter: TimeAmount) -> NIODeadline? {
        guard incarnations.peer != nil else { return nil }
        return max(lastHeard + deadAfter, stallGrace ?? lastHeard)
    }

    /// Asks for a flush; true if the caller must queue the tick (none is queued yet).
    mutating func requestFlush() -> Bool {
        guard !flushRequested else { return false }
        flushRequested = true
        return true
    }
}
