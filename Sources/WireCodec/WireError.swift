/// A violation of the framing protocol; the connection that produced it is closed.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A frame announced more bytes than the configured maximum.
    case frameTooLarge(length: Int, maximum: Int)
    /// A frame shorter than its own header.
    case truncated
    /// The peer speaks a protocol version this build does not.
    case unsupportedVersion(UInt8)

    public var description: String {
        switch self {
        case .frameTooLarge(let length, let maximum): "frame of \(length) bytes exceeds the maximum of \(maximum)"
        case .truncated: "frame shorter than its header"
        case .unsupportedVersion(let version): "unsupported protocol version \(version) (this build speaks \(Frame.protocolVersion))"
        }
    }
}
