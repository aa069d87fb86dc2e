import NIOCore

/// Decides when a peer that sends nothing is gone, without blaming it for this process's own
/// stalls.
///
/// A check that runs more than `stall` after it was due means this process did not run (a loaded
/// machine, a paused VM): the peer's datagrams or frames may be waiting unread, queued behind the
/// check itself. Such a verdict waits `stall` longer, once per silence, so that they are read
/// first; a peer that is really gone is declared so at most `stall` later.
public struct PeerSilence: Sendable, Equatable {
    /// When the peer was last heard from.
    public private(set) var lastHeard: NIODeadline
    /// Until when the current silence is excused; cleared by anything heard from the peer.
    private var graceUntil: NIODeadline?

    public init(heardAt now: NIODeadline) {
        lastHeard = now
    }

    /// Something came from the peer at `now`.
    public mutating func heard(at now: NIODeadline) {
        lastHeard = max(lastHeard, now)
        graceUntil = nil
    }

    /// Whether nothing came from the peer for `deadAfter` by `now` (no stall excused).
    public func isSilent(now: NIODeadline, deadAfter: TimeAmount) -> Bool {
        now - lastHeard >= deadAfter
    }

    /// Whether the peer is gone: nothing from it for `deadAfter` by `now`, judged by a check that
    /// was due at `due` (nil: on time).
    public mutating func isGone(now: NIODeadline, due: NIODeadline?, deadAfter: TimeAmount, stall: TimeAmount) -> Bool {
        guard isSilent(now: now, deadAfter: deadAfter) else { return false }
        if graceUntil == nil, let due, now - due > stall {
            graceUntil = now + stall
        }
        guard let graceUntil else { return true }
        return now >= graceUntil
    }

    /// When the silence is next due to be judged.
    public func deadline(deadAfter: TimeAmount) -> NIODeadline {
        max(lastHeard + deadAfter, graceUntil ?? lastHeard)
    }
}
