import MessageModel
import P2PCore

extension MailboxOutcome {
    private enum Tag: UInt8 {
        case stored = 1, alreadyDelivered, mailboxFull, unknownRecipient, keyMismatch, done, notFound, purged, invalidCommand, skipAcknowledged
        case senderQuotaExceeded, storageFull, fieldOverLimit, expired, claimed, skipped, batch, serverRetired
    }

    /// The outcome's binary form (for answers forwarded between servers).
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .stored: writer.write(Tag.stored.rawValue)
        case .alreadyDelivered: writer.write(Tag.alreadyDelivered.rawValue)
        case .mailboxFull(let messages, let bytes):
            writer.write(Tag.mailboxFull.rawValue)
            writer.write(UInt64(messages))
            writer.write(UInt64(bytes))
        case .unknownRecipient: writer.write(Tag.unknownRecipient.rawValue)
        case .keyMismatch: writer.write(Tag.keyMismatch.rawValue)
        case .done: writer.write(Tag.done.rawValue)
        case .notFound: writer.write(Tag.notFound.rawValue)
        case .purged(let count):
            writer.write(Tag.purged.rawValue)
            writer.write(UInt64(count))
        case .invalidCommand: writer.write(Tag.invalidCommand.rawValue)
        case .skipAcknowledged: writer.write(Tag.skipAcknowledged.rawValue)
        case .senderQuotaExceeded(let limit):
            writer.write(Tag.senderQuotaExceeded.rawValue)
            writer.write(UInt64(max(0, limit)))
        case .storageFull(let limit):
            writer.write(Tag.storageFull.rawValue)
            writer.write(UInt64(max(0, limit)))
        case .fieldOverLimit(let field, let limit):
            writer.write(Tag.fieldOverLimit.rawValue)
            writer.write(field)
            writer.write(UInt64(max(0, limit)))
        case .expired: writer.write(Tag.expired.rawValue)
        case .claimed: writer.write(Tag.claimed.rawValue)
        case .skipped: writer.write(Tag.skipped.rawValue)
        case .serverRetired: writer.write(Tag.serverRetired.rawValue)
        case .batch(let outcomes):
            writer.write(Tag.batch.rawValue)
            writer.write(array: outcomes) { $1.encode(into: &$0) }
        }
    }

    public static func decode(from reader: inout ByteReader) throws(DecodingError) -> MailboxOutcome {
        try decode(from: &reader, nested: false)
    }

    /// `nested`: inside a batch, where a batch is refused before it is read (decoding batches
    /// in batches would recurse once per level, enough to overflow the stack).
    private static func decode(from reader: inout ByteReader, nested: Bool) throws(DecodingError) -> MailboxOutcome {
        let raw = try reader.readUInt8("outcome.tag")
        guard let tag = Tag(rawValue: raw) else { throw .malformed(field: "outcome.tag", reason: "unknown tag \(raw)") }
        if nested, tag == .batch { throw .malformed(field: "outcome.batch", reason: "a batch inside a batch") }
        switch tag {
        case .stored: return .stored
        case .alreadyDelivered: return .alreadyDelivered
        case .mailboxFull:
            let messages = try reader.readUInt64("outcome.messages")
            let bytes = try reader.readUInt64("outcome.bytes")
            return .mailboxFull(messages: Int(clamping: messages), bytes: Int(clamping: bytes))
        case .unknownRecipient: return .unknownRecipient
        case .keyMismatch: return .keyMismatch
        case .done: return .done
        case .notFound: return .notFound
        case .purged: return .purged(count: Int(clamping: try reader.readUInt64("outcome.count")))
        case .invalidCommand: return .invalidCommand
        case .skipAcknowledged: return .skipAcknowledged
        case .senderQuotaExceeded: return .senderQuotaExceeded(limit: Int(clamping: try reader.readUInt64("outcome.limit")))
        case .storageFull: return .storageFull(limit: Int(clamping: try reader.readUInt64("outcome.limit")))
        case .fieldOverLimit:
            let field = try reader.readString("outcome.field", maximumLength: 256)
            return .fieldOverLimit(field: field, limit: Int(clamping: try reader.readUInt64("outcome.limit")))
        case .expired: return .expired
        case .claimed: return .claimed
        case .skipped: return .skipped
        case .serverRetired: return .serverRetired
        case .batch:
            return .batch(try reader.readArray("outcome.count", limit: MailboxCommand.maximumBatch) { r throws(DecodingError) in
                try decode(from: &r, nested: true)
            })
        }
    }
}
