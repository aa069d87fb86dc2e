import P2PCore

/// A message held in a recipient's mailbox.
public struct MailMessage: Equatable, Sendable {
    public let id: MessageID
    public let recipient: NodeID
    public let payload: [UInt8]
    /// When the message was accepted, in milliseconds since 1970, stamped by the proposing server
    /// (so every replica applies the same value).
    public let enqueuedAtMillis: UInt64
    /// A skip stands in for a message the state machine refused (its mailbox was full): the
    /// recipient advances past the id without delivering anything, so FIFO has no gap.
    public let isSkip: Bool
    /// When the message expires, in milliseconds since 1970 (`nil`: never). Until then it may be
    /// delivered; after it the cluster may expire it (docs/DELIVERY.md, "Expiry"). A recipient
    /// claims a message that carries an expiry through the cluster before delivering it.
    public let expiresAtMillis: UInt64?
    /// The sender offered this id on a direct path before relaying it: the recipient may have it
    /// already, so a server's default time to live must not be given to it.
    public let offeredDirectly: Bool

    public init(
        id: MessageID, recipient: NodeID, payload: [UInt8], enqueuedAtMillis: UInt64, isSkip: Bool = false,
        expiresAtMillis: UInt64? = nil, offeredDirectly: Bool = false
    ) {
        self.id = id
        self.recipient = recipient
        self.payload = payload
        self.enqueuedAtMillis = enqueuedAtMillis
        self.isSkip = isSkip
        self.expiresAtMillis = isSkip ? nil : expiresAtMillis
        self.offeredDirectly = offeredDirectly
    }

    /// The skip record that replaces this message.
    public func skip() -> MailMessage {
        MailMessage(id: id, recipient: recipient, payload: [], enqueuedAtMillis: enqueuedAtMillis, isSkip: true)
    }

    /// This message with another acceptance time, expiry or direct-offer mark.
    public func with(enqueuedAtMillis: UInt64? = nil, expiresAtMillis: UInt64?? = nil, offeredDirectly: Bool? = nil) -> MailMessage {
        MailMessage(
            id: id, recipient: recipient, payload: payload, enqueuedAtMillis: enqueuedAtMillis ?? self.enqueuedAtMillis, isSkip: isSkip,
            expiresAtMillis: expiresAtMillis ?? self.expiresAtMillis, offeredDirectly: offeredDirectly ?? self.offeredDirectly
        )
    }

    /// Whether the message has expired at `millis` (milliseconds since 1970).
    public func isExpired(atMillis millis: UInt64) -> Bool {
        expiresAtMillis.map { millis >= $0 } ?? false
    }

    private enum Flag {
        static let skip: UInt8 = 1
        static let expiry: UInt8 = 2
        static let offeredDirectly: UInt8 = 4
        static let all: UInt8 = 7
    }

    // The flags byte was a plain boolean (skip) before expiries: old records decode unchanged.
    public func encode(into writer: inout ByteWriter) {
        writer.write(id.sender)
        writer.write(id.sequence)
        writer.write(recipient)
        writer.write(enqueuedAtMillis)
        var flags: UInt8 = isSkip ? Flag.skip : 0
        if expiresAtMillis != nil { flags |= Flag.expiry }
        if offeredDirectly { flags |= Flag.offeredDirectly }
        writer.write(flags)
        if let expiresAtMillis { writer.write(expiresAtMillis) }
        writer.write(lengthPrefixed: payload)
    }

    public static func decode(from reader: inout ByteReader) throws(DecodingError) -> MailMessage {
        let sender = try reader.readNodeID("message.sender")
        let sequence = try reader.readUInt64("message.sequence")
        let recipient = try reader.readNodeID("message.recipient")
        let enqueuedAt = try reader.readUInt64("message.enqueuedAt")
        let flags = try reader.readUInt8("message.flags")
        guard flags & ~Flag.all == 0 else { throw .malformed(field: "message.flags", reason: "unknown flags \(flags)") }
        let expiresAt = flags & Flag.expiry != 0 ? try reader.readUInt64("message.expiresAt") : nil
        let payload = try reader.readLengthPrefixed("message.payload")
        return MailMessage(
            id: MessageID(sender: sender, sequence: sequence), recipient: recipient,
            payload: payload, enqueuedAtMillis: enqueuedAt, isSkip: flags & Flag.skip != 0,
            expiresAtMillis: expiresAt, offeredDirectly: flags & Flag.offeredDirectly != 0
        )
    }
}
