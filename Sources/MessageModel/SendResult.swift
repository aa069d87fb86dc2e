import P2PCore

/// The fate of one relayed send, as decided by the cluster.
public enum SendResult: Equatable, Sendable {
    /// Committed into the recipient's mailbox (a majority has it on disk).
    case stored
    /// The recipient already acknowledged this id.
    case alreadyDelivered
    /// The recipient's mailbox is full: a skip took the message's place.
    case mailboxFull
    /// No client with that id was ever registered; nothing was stored.
    case unknownRecipient
    /// The message exceeds the server's size limit; nothing was stored.
    case tooLarge(limit: Int)
    /// The server could not get it committed now (no leader, leadership changed): retry.
    case unavailable(reason: String)
    /// The sender already has `limit` messages and skips in the recipient's mailbox: nothing was
    /// stored, not even a skip. The sender owes the recipient a skip for this id (docs/DELIVERY.md).
    case quotaExceeded(limit: Int)
    /// The cluster's storage is at its limit (`limit` bytes over all mailboxes): nothing was
    /// stored, not even a skip. The sender owes the recipient a skip for this id.
    case storageFull(limit: Int)
    /// The message's expiry passed before the recipient claimed it: the cluster decided, once,
    /// that it will never be delivered (the recipient passes over its id; docs/DELIVERY.md, "Expiry").
    case expired

    private enum Tag: UInt8 { case stored = 1, alreadyDelivered, mailboxFull, unknownRecipient, tooLarge, unavailable, quotaExceeded, storageFull, expired }

    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .stored: writer.write(Tag.stored.rawValue)
        case .alreadyDelivered: writer.write(Tag.alreadyDelivered.rawValue)
        case .mailboxFull: writer.write(Tag.mailboxFull.rawValue)
        case .unknownRecipient: writer.write(Tag.unknownRecipient.rawValue)
        case .tooLarge(let limit):
            writer.write(Tag.tooLarge.rawValue)
            writer.write(UInt64(limit))
        case .unavailable(let reason):
            writer.write(Tag.unavailable.rawValue)
            writer.write(reason)
        case .quotaExceeded(let limit):
            writer.write(Tag.quotaExceeded.rawValue)
            writer.write(UInt64(max(0, limit)))
        case .storageFull(let limit):
            writer.write(Tag.storageFull.rawValue)
            writer.write(UInt64(max(0, limit)))
        case .expired: writer.write(Tag.expired.rawValue)
        }
    }

    public static func decode(from reader: inout ByteReader) throws(DecodingError) -> SendResult {
        let raw = try reader.readUInt8("result.tag")
        guard let tag = Tag(rawValue: raw) else { throw .malformed(field: "result.tag", reason: "unknown tag \(raw)") }
        switch tag {
        case .stored: return .stored
        case .alreadyDelivered: return .alreadyDelivered
        case .mailboxFull: return .mailboxFull
        case .unknownRecipient: return .unknownRecipient
        case .tooLarge: return .tooLarge(limit: Int(clamping: try reader.readUInt64("result.limit")))
        case .unavailable: return .unavailable(reason: try reader.readString("result.reason"))
        case .quotaExceeded: return .quotaExceeded(limit: Int(clamping: try reader.readUInt64("result.limit")))
        case .storageFull: return .storageFull(limit: Int(clamping: try reader.readUInt64("result.limit")))
        case .expired: return .expired
        }
    }
}
