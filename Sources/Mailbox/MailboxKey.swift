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

    /// `mbx.expiries`: expiry ‖ recipient ‖ sender ‖ sequence (walked in order of expiry).
    static func expiry(_ atMillis: UInt64, _ recipient: NodeID, _ id: MessageID) -> [UInt8] {
        atMillis.bigEndianBytes + index(recipient, id)
    }

    /// The expiry and message a `mbx.expiries` key names.
    static func expiryEntry(_ key: [UInt8]) -> (atMillis: UInt64, recipient: NodeID, id: MessageID)? {
        guard key.count == 48, let at = UInt64(bigEndianBytes: key.prefix(8)), let recipient = NodeID(bytes: Array(key[8..<24])),
              let sender = NodeID(bytes: Array(key[24..<40])), let sequence = UInt64(bigEndianBytes: key.suffix(8))
        else { return nil }
        return (at, recipient, MessageID(sender: sender, sequence: sequence))
    }

    /// `mbx.clients`, `mbx.boxes`, `mbx.servers`: the node id.
    static func node(_ id: NodeID) -> [UInt8] { id.bytes }

    /// `mbx.servers`: the mark of a retired server, its id and one 0xFF byte (no node's key:
    /// those are exactly 16 bytes).
    static func retiredServer(_ id: NodeID) -> [UInt8] { id.bytes + [0xFF] }

    /// The arrival number at the end of a `mbx.messages` key.
    static func arrival(ofMessageKey key: [UInt8]) -> UInt64? {
        key.count == 24 ? UInt64(bigEndianBytes: key.suffix(8)) : nil
    }

    /// The smallest key after every key that starts with `prefix` (`nil`: there is none).
    static func successor(ofPrefix prefix: [UInt8]) -> [UInt8]? {
        var bytes = prefix
        for i in bytes.indices.reversed() where bytes[i] < 0xFF {
            bytes[i] += 1
            return Array(bytes[...i])
        }
        return nil
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

/// A `mbx.index` value: where the id's record is in the mailbox, whether it is a skip, and
/// whether its recipient claimed it (it can no longer expire; docs/DELIVERY.md, "Expiry").
struct MailboxIndexEntry: Equatable {
    var arrival: UInt64
    var isSkip: Bool
    var isClaimed = false

    init(arrival: UInt64, isSkip: Bool, isClaimed: Bool = false) {
        self.arrival = arrival
        self.isSkip = isSkip
        self.isClaimed = isClaimed
    }

    /// `nil` for a value of the wrong shape.
    init?(_ bytes: [UInt8]) {
        guard bytes.count == 9, bytes[8] <= 3, let arrival = UInt64(bigEndianBytes: bytes.prefix(8)) else { return nil }
        self.arrival = arrival
        isSkip = bytes[8] & 1 != 0
        isClaimed = bytes[8] & 2 != 0
    }

    var bytes: [UInt8] { arrival.bigEndianBytes + [(isSkip ? 1 : 0) | (isClaimed ? 2 : 0)] }
}
