import NIOCore

/// Splits a byte stream into ``Frame``s. A frame over the limit is refused from its length prefix
/// alone — nothing of that size is ever buffered.
///
/// The limit is a ``FrameSizeLimit``, read for every frame, so its owner can change it while the
/// decoder runs (a link raises it once its handshake is done).
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    /// The limit this decoder applies.
    public let limit: FrameSizeLimit

    /// The largest frame accepted now.
    public var maximumFrameSize: Int { limit.maximum }

    /// A decoder with a fixed maximum (default 16 MiB).
    public init(maximumFrameSize: Int = 16 << 20) {
        self.init(limit: FrameSizeLimit(maximumFrameSize))
    }

    /// A decoder held to `limit`, which may change while it runs.
    public init(limit: FrameSizeLimit) {
        self.limit = limit
    }

    public func decode(buffer: inout ByteBuffer) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let frameLength = Int(length)
        let maximum = limit.maximum
        guard frameLength <= maximum else {
            throw WireError.frameTooLarge(length: frameLength, maximum: maximum)
        }
        guard frameLength >= Frame.headerSize else { throw WireError.truncated }
        guard buffer.readableBytes >= 4 + frameLength else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let version = buffer.readInteger(as: UInt8.self), let type = buffer.readInteger(as: UInt8.self),
              let payload = buffer.readSlice(length: frameLength - Frame.headerSize)
        else {
            throw WireError.truncated
        }
        guard version == Frame.protocolVersion else { throw WireError.unsupportedVersion(version) }
        return Frame(type: type, payload: payload)
    }

    public func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        try decode(buffer: &buffer)
    }
}
