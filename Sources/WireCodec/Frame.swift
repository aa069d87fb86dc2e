import NIOCore

/// One unit on a p2pcore connection: a type and a payload.
///
/// On the wire: a 4-byte big-endian length (of everything after it), the protocol version byte,
/// the frame type byte, then the payload.
public struct Frame: Sendable, Equatable {
    /// The protocol version this build speaks.
    public static let protocolVersion: UInt8 = 1
    /// Bytes of version and type that follow the length prefix.
    static let headerSize = 2

    public var type: UInt8
    public var payload: ByteBuffer

    public init(type: UInt8, payload: ByteBuffer) {
        self.type = type
        self.payload = payload
    }

    public init(type: UInt8, bytes: [UInt8]) {
        self.init(type: type, payload: ByteBuffer(bytes: bytes))
    }

    /// The payload as an array.
    public var bytes: [UInt8] { Array(payload.readableBytesView) }
}
