import P2PCore

/// The cluster's answer to a recipient's claim of a message that carries an expiry
/// (docs/DELIVERY.md, "Expiry"): whichever of the claim and the expiry committed first decided.
public enum ClaimResult: Equatable, Sendable {
    /// The message can no longer expire: deliver it.
    case claimed
    /// The message expired first: pass over its id, never deliver it.
    case expired
    /// The id's record is a skip (refused or removed by an operator): pass over it.
    case skipped
    /// No decision now (no leader, not committed in time, not found): ask again later.
    case unavailable

    private enum Tag: UInt8 { case claimed = 1, expired, skipped, unavailable }

    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .claimed: writer.write(Tag.claimed.rawValue)
        case .expired: writer.write(Tag.expired.rawValue)
        case .skipped: writer.write(Tag.skipped.rawValue)
        case .unavailable: writer.write(Tag.unavailable.rawValue)
        }
    }

    public static func decode(from reader: inout ByteReader) throws(DecodingError) -> ClaimResult {
        let raw = try reader.readUInt8("claim.result")
        switch Tag(rawValue: raw) {
        case .claimed: return .claimed
        case .expired: return .expired
        case .skipped: return .skipped
        case .unavailable: return .unavailable
        case nil: throw .malformed(field: "claim.result", reason: "unknown tag \(raw)")
        }
    }
}
