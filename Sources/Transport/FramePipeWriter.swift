import NIOCore
import WireCodec

/// The sending side of a ``FramePipe``.
protocol FramePipeWriter: Sendable {
    /// Writes one frame; returns when the pipe has taken it (which may wait for room), throws
    /// once the pipe is closed.
    func write(_ frame: Frame) async throws
    /// Writes frames in order, flushing once at the end.
    func write(batch frames: [Frame]) async throws
}

extension FramePipeWriter {
    func write(batch frames: [Frame]) async throws {
        for frame in frames { try await write(frame) }
    }
}

extension NIOAsyncChannelOutboundWriter: FramePipeWriter where OutboundOut == Frame {
    func write(batch frames: [Frame]) async throws {
        try await write(contentsOf: frames)
    }
}
