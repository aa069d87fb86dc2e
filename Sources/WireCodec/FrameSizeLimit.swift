import Synchronization

/// The largest frame a ``FrameDecoder`` accepts, changeable while the decoder runs: a link starts
/// with a small limit for its handshake and raises it once the peer is authenticated.
///
/// Thread safe: the owner may change it from any task while the decoder reads it on its event loop.
public final class FrameSizeLimit: Sendable {
    private let value: Atomic<Int>

    /// A limit of `maximum` bytes (of everything after a frame's length prefix).
    public init(_ maximum: Int) {
        value = Atomic(maximum)
    }

    /// The current limit.
    public var maximum: Int {
        value.load(ordering: .sequentiallyConsistent)
    }

    /// Sets the limit; frames whose length prefix the decoder reads from now on are held to it.
    public func set(_ maximum: Int) {
        value.store(maximum, ordering: .sequentiallyConsistent)
    }
}
