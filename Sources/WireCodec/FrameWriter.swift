import NIOCore

/// Writes ``Frame``s to a channel with their length prefix and header, as ``FrameEncoder`` lays
/// them out, without NIO's `MessageToByteHandler`.
///
/// `MessageToByteHandler` encodes into one buffer that it reuses; while an earlier frame is still
/// queued in the channel (not yet written to the socket) it allocates a fresh buffer with that
/// buffer's whole capacity, which is the size of the largest frame the link ever carried. On a
/// link that once carried a 1 MiB frame every later frame then cost 1 MiB while queued: under
/// load, hundreds of MiB for a few MiB of data. Here each frame costs its own size: a small
/// frame is copied into a buffer of exactly its length, a large one is written as a header and
/// its payload as is (no copy; the socket writes both with one `writev`).
public final class FrameWriter: ChannelOutboundHandler {
    public typealias OutboundIn = Frame
    public typealias OutboundOut = ByteBuffer

    /// Payloads up to this size are copied behind their header; larger ones are written apart.
    static let copyLimit = 4096

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = Self.unwrapOutboundIn(data)
        let length = frame.payload.readableBytes
        let prefixed = 4 + Frame.headerSize
        if length <= Self.copyLimit {
            var buffer = context.channel.allocator.buffer(capacity: prefixed + length)
            Self.writeHeader(of: frame, to: &buffer)
            var payload = frame.payload
            buffer.writeBuffer(&payload)
            context.write(Self.wrapOutboundOut(buffer), promise: promise)
        } else {
            var header = context.channel.allocator.buffer(capacity: prefixed)
            Self.writeHeader(of: frame, to: &header)
            context.write(Self.wrapOutboundOut(header), promise: nil)
            context.write(Self.wrapOutboundOut(frame.payload), promise: promise)
        }
    }

    private static func writeHeader(of frame: Frame, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(Frame.headerSize + frame.payload.readableBytes))
        buffer.writeInteger(Frame.protocolVersion)
        buffer.writeInteger(frame.type)
    }
}

@available(*, unavailable)
extension FrameWriter: Sendable {}
