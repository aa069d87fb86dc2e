import P2PCore

/// A recipient's acknowledgement of one message, passed from the server that took it to the
/// servers its sender is attached to, before the acknowledgement commits (docs/DELIVERY.md,
/// "Receipts").
package struct DeliveryReceipt: Hashable, Sendable {
    package let recipient: NodeID
    package let id: MessageID

    package init(recipient: NodeID, id: MessageID) {
        self.recipient = recipient
        self.id = id
    }

    /// Most receipts in one peer message.
    package static let maximumPerMessage = 4096

    func encode(into writer: inout ByteWriter) {
        writer.write(recipient)
        writer.write(id.sender)
        writer.write(id.sequence)
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> DeliveryReceipt {
        let recipient = try reader.readNodeID("receipt.recipient")
        let sender = try reader.readNodeID("receipt.sender")
        return DeliveryReceipt(recipient: recipient, id: MessageID(sender: sender, sequence: try reader.readUInt64("receipt.sequence")))
    }
}
