import NIOCore
import WireCodec

/// The sending side of a ``FramePipe``.
protocol FramePipeWriter: Sendable {
    /// Writes one frame; returns when the pipe has taken it (which may wait for room), throws
    /// once the pipe is closed.
    func write(_ frame: Frame) async throws
}

extension NIOAsyncChannelOutboundWriter: FramePipeWriter where OutboundOut == Frame {}
