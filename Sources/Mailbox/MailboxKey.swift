import LMDB
import P2PCore

/// The keys of the mailbox tables, built in one place (all big-endian, so that cursors walk a
/// recipient's records in order). See ``MailboxStore`` for the layout.
enum MailboxKey {
    /// `mbx.messages`: recipient ‖ arrival.
    static func message(_ recipient: NodeID, arrival: UInt64) -> [UInt8] {
        recipient.bytes + arrival.bigEndianBytes
    }

    /// `mbx.index`: recipient ‖ sender ‖ sequence.
    static func index(_ recipient: NodeID, _ id: MessageID) -> [UInt8] {
        recipient.bytes + id.sender.bytes + id.sequence.bigEndianBytes
    }

    /// `mbx.delivered` and `mbx.senders`: recipient ‖ sender.
    static func pair(_ recipient: NodeID, _ sender: NodeID) -> [UInt8] {
        recipient.bytes + sender.bytes
    }

    /// `mbx.clients`, `mbx.boxes`, `mbx.servers`: the node id.
    static func node(_ id: NodeID) -> [UInt8] { id.bytes }

    /// The arrival number at the end of a `mbx.messages` key.
    static func arrival(ofMessageKey key: [UInt8]) -> UInt64? {
        key.count == 24 ? UInt64(bigEndianBytes: key.suffix(8)) : nil
    }

    /// The key range of every record of `recipient` in a table keyed by recipient first:
    /// from the recipient's id up to (not including) the smallest key after all of them.
    static func range(of recipient: NodeID) -> (from: [UInt8], until: [UInt8]?) {
        var bytes = recipient.bytes
        for i in bytes.indices.reversed() where bytes[i] < 0xFF {
            bytes[i] += 1
            return (recipient.bytes, Array(bytes[...i]))
        }
        return (recipient.bytes, nil)
    }
}

/// A `mbx.index` value: where the id's record is in the mailbox, and whether it is a skip.
struct MailboxIndexEntry: Equatable {
    var arrival: UInt64
    var isSkip: Bool

    init(arrival: UInt64, isSkip: Bool) {
        self.arrival = arrival
        self.isSkip = isSkip
    }

    /// `nil` for a value of the wrong shape.
    init?(_ bytes: [UInt8]) {
        guard bytes.count == 9, bytes[8] <= 1, let arrival = UInt64(bigEndianBytes: bytes.prefix(8)) else { return nil }
        self.arrival = arrival
        isSkip = bytes[8] == 1
    }

    var bytes: [UInt8] { arrival.bigEndianBytes + [isSkip ? 1 : 0] }
}
