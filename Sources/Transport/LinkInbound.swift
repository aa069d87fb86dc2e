import WireCodec

/// The frames a link received, decrypted and in order (``Link/inbound``).
///
/// Iterate it (`for try await frame in link.inbound`, or `var frames =
/// link.inbound.makeAsyncIterator()`): it finishes when the link closes and throws if the link
/// broke. It is bounded: while ``LinkConfiguration/maximumInboundFrames`` frames are unconsumed
/// the link stops reading, so a slow consumer slows the peer down instead of growing memory.
/// One consumer at a time is expected; a task cancelled while it waits gets `nil`.
public struct LinkInbound: AsyncSequence, Sendable {
    public typealias Element = Frame
    public typealias Failure = any Error

    let buffer: InboundFrameBuffer

    init(_ buffer: InboundFrameBuffer) {
        self.buffer = buffer
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: buffer)
    }

    /// Frames received and not yet consumed.
    var bufferedCount: Int { buffer.bufferedCount }

    /// Offers each frame received from now on to `take` first, on the thread that received it
    /// (an event loop): a frame `take` returns true for is handled, and the iterator never sees
    /// it. For traffic whose handling is quick and never waits, to spare it the hop to the
    /// consuming task; it is not bounded by the link's inbound limit, so `take` bounds it.
    /// Frames it declines keep their order among themselves.
    public func intercept(_ take: @escaping @Sendable (Frame) -> Bool) {
        buffer.intercept(take)
    }

    /// Iterates a link's frames.
    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        public typealias Element = Frame
        public typealias Failure = any Error

        let buffer: InboundFrameBuffer

        /// The next frame; `nil` once the link closed; throws if it broke.
        public mutating func next() async throws -> Frame? {
            try await buffer.next()
        }
    }
}
