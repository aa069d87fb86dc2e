/// Why a datagram, a message or a configuration was refused. A refused datagram is dropped whole:
/// none of its segments changes the session.
public enum ReliableDatagramError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The datagram belongs to another conversation.
    case wrongConversation(expected: UInt32, received: UInt32)
    /// Fewer than 24 bytes where a segment header should start (also: an empty datagram, or
    /// trailing bytes after the last segment).
    case truncatedHeader(offset: Int, available: Int)
    /// The header at `offset` declares more payload than the datagram holds.
    case truncatedPayload(offset: Int, declared: UInt32, available: Int)
    /// The `cmd` byte is none of push (81), ack (82), window probe (83), window size (84).
    case unknownCommand(UInt8, offset: Int)
    /// A push claims more fragments to follow than the receive window could ever hold, so its
    /// message could never be reassembled.
    case fragmentOutOfRange(UInt8, offset: Int, limit: Int)
    /// The message needs more fragments than KCP allows (fewer than 128).
    case messageTooLarge(size: Int, limit: Int)
    /// A setting is outside the range KCP supports.
    case invalidSettings(String)

    public var description: String {
        switch self {
        case .wrongConversation(let expected, let received):
            "datagram for conversation \(received), expected \(expected)"
        case .truncatedHeader(let offset, let available):
            "truncated segment header at offset \(offset): \(available) of 24 bytes"
        case .truncatedPayload(let offset, let declared, let available):
            "segment at offset \(offset) declares \(declared) payload bytes, only \(available) present"
        case .unknownCommand(let command, let offset):
            "unknown command \(command) in segment at offset \(offset)"
        case .fragmentOutOfRange(let fragment, let offset, let limit):
            "segment at offset \(offset) has fragment count \(fragment), limit \(limit)"
        case .messageTooLarge(let size, let limit):
            "message of \(size) bytes exceeds the limit of \(limit) bytes"
        case .invalidSettings(let why):
            "invalid settings: \(why)"
        }
    }
}
