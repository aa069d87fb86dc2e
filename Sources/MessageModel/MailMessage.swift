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

    public init(id: MessageID, recipient: NodeID, payload: [UInt8], enqueuedAtMillis: UInt64, isSkip: Bool = false) {
        self.id = id
        self.recipient = recipient
        self.payload = payload
        self.enqueuedAtMillis = enqueuedAtMillis
        self.isSkip = isSkip
    }

    /// The skip record that replaces this message.
    public func skip() -> MailMessage {
        MailMessage(id: id, recipient: recipient, payload: [], enqueuedAtMillis: enqueuedAtMillis, isSkip: true)
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(id.sender)
        writer.write(id.sequence)
        writer.write(recipient)
        writer.write(enqueuedAtMillis)
        writer.write(isSkip)
        writer.write(lengthPrefixed: payload)
    }

    public static func decode(from reader: inout ByteReader) throws(DecodingError) -> MailMessage {
        let sender = try reader.readNodeID("message.sender")
        let sequence = try reader.readUInt64("message.sequence")
        let recipient = try reader.readNodeID("message.recipient")
        let enqueuedAt = try reader.readUInt64("message.enqueuedAt")
        let isSkip = try reader.readBool("message.isSkip")
        let payload = try reader.readLengthPrefixed("message.payload")
        return MailMessage(
            id: MessageID(sender: sender, sequence: sequence), recipient: recipient,
            payload: payload, enqueuedAtMillis: enqueuedAt, isSkip: isSkip
        )
    }
}
