import NIOCore

/// Writes ``Frame``s with their length prefix and header.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame

    public init() {}

    public func encode(data frame: Frame, out: inout ByteBuffer) throws {
        out.reserveCapacity(minimumWritableBytes: 4 + Frame.headerSize + frame.payload.readableBytes)
        out.writeInteger(UInt32(Frame.headerSize + frame.payload.readableBytes))
        out.writeInteger(Frame.protocolVersion)
        out.writeInteger(frame.type)
        var payload = frame.payload
        out.writeBuffer(&payload)
    }
}
