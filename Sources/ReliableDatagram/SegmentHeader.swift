/// The 24-byte header in front of every KCP segment, little-endian on the wire:
/// `conv u32, cmd u8, frg u8, wnd u16, ts u32, sn u32, una u32, len u32`.
public struct SegmentHeader: Equatable, Sendable {
    /// Size of an encoded header (`IKCP_OVERHEAD`).
    public static let size = 24

    /// Conversation id; both ends of a session use the same one.
    public var conversation: UInt32
    public var command: SegmentCommand
    /// Fragments of the same message still to follow this one (message mode counts down to 0).
    public var fragment: UInt8
    /// The sender's free receive window, in segments.
    public var window: UInt16
    /// Send time of a push; for an acknowledgement, the timestamp of the acknowledged push.
    public var timestamp: UInt32
    /// Sequence number of a push, or the one being acknowledged.
    public var sequence: UInt32
    /// The next sequence number the sender expects to receive (everything before it arrived).
    public var unacknowledged: UInt32
    /// Payload bytes following the header.
    public var length: UInt32

    public init(
        conversation: UInt32, command: SegmentCommand, fragment: UInt8 = 0, window: UInt16 = 0,
        timestamp: UInt32 = 0, sequence: UInt32 = 0, unacknowledged: UInt32 = 0, length: UInt32 = 0
    ) {
        self.conversation = conversation
        self.command = command
        self.fragment = fragment
        self.window = window
        self.timestamp = timestamp
        self.sequence = sequence
        self.unacknowledged = unacknowledged
        self.length = length
    }

    /// Appends the encoded header to `bytes`.
    public func encode(into bytes: inout [UInt8]) {
        Self.append(conversation, to: &bytes)
        bytes.append(command.rawValue)
        bytes.append(fragment)
        bytes.append(UInt8(truncatingIfNeeded: window))
        bytes.append(UInt8(truncatingIfNeeded: window >> 8))
        Self.append(timestamp, to: &bytes)
        Self.append(sequence, to: &bytes)
        Self.append(unacknowledged, to: &bytes)
        Self.append(length, to: &bytes)
    }

    /// Decodes the header at `offset`; checks the conversation, the command and that the declared
    /// payload fits in `bytes`.
    public init(decoding bytes: [UInt8], at offset: Int, conversation expected: UInt32) throws(ReliableDatagramError) {
        let available = bytes.count - offset
        guard offset >= 0, available >= Self.size else {
            throw .truncatedHeader(offset: offset, available: max(available, 0))
        }
        let conversation = Self.readUInt32(bytes, offset)
        guard conversation == expected else {
            throw .wrongConversation(expected: expected, received: conversation)
        }
        let rawCommand = bytes[offset + 4]
        guard let command = SegmentCommand(rawValue: rawCommand) else {
            throw .unknownCommand(rawCommand, offset: offset)
        }
        let length = Self.readUInt32(bytes, offset + 20)
        // Compared as Int: a hostile `len` near UInt32.max must not wrap.
        guard Int(length) <= available - Self.size else {
            throw .truncatedPayload(offset: offset, declared: length, available: available - Self.size)
        }
        self.init(
            conversation: conversation,
            command: command,
            fragment: bytes[offset + 5],
            window: UInt16(bytes[offset + 6]) | UInt16(bytes[offset + 7]) << 8,
            timestamp: Self.readUInt32(bytes, offset + 8),
            sequence: Self.readUInt32(bytes, offset + 12),
            unacknowledged: Self.readUInt32(bytes, offset + 16),
            length: length
        )
    }

    private static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value >> 16))
        bytes.append(UInt8(truncatingIfNeeded: value >> 24))
    }

    private static func readUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }
}
