import NIOCore
import Synchronization

/// A connection a listener accepted, not yet wrapped in an `NIOAsyncChannel`.
///
/// A server bootstrap's child initializer that returns an `NIOAsyncChannel` hands it to the
/// listener's stream of connections; when a connection arrives while the listener closes, NIO
/// drops it unconsumed, and an `NIOAsyncChannel` dropped without `executeThenClose` traps ("Deinited
/// NIOAsyncWriter without calling finish()"). The initializer returns this instead: the child's
/// reading is paused until ``wrap()`` installs the async handlers, and a connection dropped
/// unwrapped is closed.
public final class AcceptedChannel: Sendable {
    public let channel: any Channel
    private let wrapped = Atomic<Bool>(false)

    /// Call in the child channel initializer, on the child's event loop, after adding the
    /// framing handlers: pauses reading until ``wrap()``.
    public init(pausing channel: any Channel) throws {
        try channel.syncOptions?.setOption(.autoRead, value: false)
        self.channel = channel
    }

    /// The connection as an `NIOAsyncChannel` (which the caller must run with
    /// `executeThenClose`); reading starts.
    public func wrap<Inbound: Sendable, Outbound: Sendable>(
        as type: NIOAsyncChannel<Inbound, Outbound>.Type = NIOAsyncChannel<Inbound, Outbound>.self
    ) async throws -> NIOAsyncChannel<Inbound, Outbound> {
        wrapped.store(true, ordering: .relaxed)
        let channel = self.channel
        return try await channel.eventLoop.submit {
            let async = try NIOAsyncChannel<Inbound, Outbound>(wrappingChannelSynchronously: channel)
            try channel.syncOptions?.setOption(.autoRead, value: true)
            return async
        }.get()
    }

    deinit {
        if !wrapped.load(ordering: .relaxed) { channel.close(promise: nil) }
    }
}
