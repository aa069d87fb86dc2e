import Delivery
import P2PCore

/// One ledger transaction as the ledger's journal holds it (``JournaledCommits`` numbers it):
/// its operations in order. Redoing it on the LMDB state it was applied to gives the same result
/// (sequence numbers included), so it can stand in for an LMDB commit that a crash undid.
struct LedgerJournalRecord: Equatable {
    var operations: [LedgerOperation]

    private enum Tag: UInt8 {
        case prepare = 1, resolve, oweSkip, markDelivered
    }

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 64 + operations.count * 48)
        writer.write(array: operations) { writer, operation in
            switch operation {
            case .prepare(let recipient, let payload, let expiresAt):
                writer.write(Tag.prepare.rawValue)
                writer.write(recipient)
                writer.write(optional: expiresAt) { $0.write($1) }
                writer.write(lengthPrefixed: payload)
            case .resolve(let key):
                writer.write(Tag.resolve.rawValue)
                Self.write(key, to: &writer)
            case .oweSkip(let key):
                writer.write(Tag.oweSkip.rawValue)
                Self.write(key, to: &writer)
            case .markDelivered(let id):
                writer.write(Tag.markDelivered.rawValue)
                writer.write(id.sender)
                writer.write(id.sequence)
            }
        }
        return writer.bytes
    }

    /// Decodes a record of the ledger of client `me` (whose outbox keys carry `me` as sender).
    init(decoding bytes: [UInt8], me: NodeID) throws(DecodingError) {
        var reader = ByteReader(bytes)
        operations = try reader.readArray("journal.operations") { (reader: inout ByteReader) throws(DecodingError) -> LedgerOperation in
            let tag = try reader.readUInt8("journal.tag")
            switch Tag(rawValue: tag) {
            case .prepare:
                let recipient = try reader.readNodeID("journal.recipient")
                let expiresAt = try reader.readOptional("journal.expiresAt") { (reader: inout ByteReader) throws(DecodingError) in try reader.readUInt64("journal.expiresAt") }
                return .prepare(recipient: recipient, payload: try reader.readLengthPrefixed("journal.payload"), expiresAt: expiresAt)
            case .resolve:
                return .resolve(try Self.readKey(&reader, me: me))
            case .oweSkip:
                return .oweSkip(try Self.readKey(&reader, me: me))
            case .markDelivered:
                let sender = try reader.readNodeID("journal.sender")
                return .markDelivered(MessageID(sender: sender, sequence: try reader.readUInt64("journal.sequence")))
            case nil:
                throw DecodingError.malformed(field: "journal.tag", reason: "unknown operation \(tag)")
            }
        }
        try reader.expectEnd()
    }

    init(operations: [LedgerOperation]) {
        self.operations = operations
    }

    private static func write(_ key: OutboxKey, to writer: inout ByteWriter) {
        writer.write(key.recipient)
        writer.write(key.id.sequence)
    }

    private static func readKey(_ reader: inout ByteReader, me: NodeID) throws(DecodingError) -> OutboxKey {
        let recipient = try reader.readNodeID("journal.recipient")
        return OutboxKey(recipient: recipient, id: MessageID(sender: me, sequence: try reader.readUInt64("journal.sequence")))
    }
}
