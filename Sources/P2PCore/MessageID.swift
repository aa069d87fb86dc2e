
/// Identifies one message: its sender and the sender's sequence number for that recipient.
///
/// Sequence numbers start at 1 and grow by one per message from a sender to a recipient, on every
/// path (direct or relayed), so the recipient deduplicates and orders by them.
public struct MessageID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let sender: NodeID
    public let sequence: UInt64

    public init(sender: NodeID, sequence: UInt64) {
        self.sender = sender
        self.sequence = sequence
    }

    public var description: String { "\(sender)#\(sequence)" }
}
