import NIOCore
import Synchronization

/// The connections a ``LinkListener`` is still handshaking with, so that closing the listener
/// closes them too rather than leaving each to its handshake timeout.
final class PendingHandshakes: Sendable {
    private struct State {
        var next: UInt64 = 0
        var channels: [UInt64: any Channel] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// Tracks `channel` until ``remove(_:)``; `nil` (and the channel closed) once ``closeAll()`` ran.
    func add(_ channel: any Channel) -> UInt64? {
        let key = state.withLock { state -> UInt64? in
            guard !state.closed else { return nil }
            defer { state.next += 1 }
            state.channels[state.next] = channel
            return state.next
        }
        if key == nil { channel.close(promise: nil) }
        return key
    }

    /// Stops tracking the channel (its handshake ended, either way).
    func remove(_ key: UInt64) {
        _ = state.withLock { $0.channels.removeValue(forKey: key) }
    }

    /// Closes every tracked channel, and any added later.
    func closeAll() {
        let channels = state.withLock { state in
            state.closed = true
            defer { state.channels.removeAll() }
            return Array(state.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
