import NIOCore

/// Splits a byte stream into ``Frame``s. A frame over `maximumFrameSize` is refused from its
/// length prefix alone — nothing of that size is ever buffered.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    public let maximumFrameSize: Int

    /// Default maximum: 16 MiB.
    public init(maximumFrameSize: Int = 16 << 20) {
        self.maximumFrameSize = maximumFrameSize
    }

    public func decode(buffer: inout ByteBuffer) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let frameLength = Int(length)
        guard frameLength <= maximumFrameSize else {
            throw WireError.frameTooLarge(length: frameLength, maximum: maximumFrameSize)
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
