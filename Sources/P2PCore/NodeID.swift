import Crypto
import Foundation

/// The unique, permanent identity of a node (server or client) in a p2pcore system.
///
/// Applications address each other only by `NodeID`; IP addresses, ports and roles stay hidden.
/// A node keeps its id across restarts (see ``IdentityStore``).
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    /// The UUID behind the id.
    public let uuid: UUID

    /// Wraps an existing UUID.
    public init(_ uuid: UUID) {
        self.uuid = uuid
    }

    /// Encodes as its canonical text, e.g. `"E621E1F8-C36C-495A-93FC-0C247A3E6E5F"`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(uuid.uuidString)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let uuid = UUID(uuidString: text) else {
            throw Swift.DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a node id: '\(text)'"))
        }
        self.uuid = uuid
    }

    /// A fresh random id (tests and tools only: a node's real id is derived from its key).
    public static func random() -> NodeID {
        NodeID(UUID())
    }

    /// The id that belongs to an Ed25519 public key: a version-8 UUID made of the first 16 bytes
    /// of SHA-256 of the key. Holding the key is what makes such an id yours: nobody can claim
    /// (or squat) it without the key, and anybody can check the claim from the key alone.
    public init(publicKey: some DataProtocol) {
        var bytes = Array(SHA256.hash(data: Array("p2pcore-node-id-v1".utf8) + Array(publicKey)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8: custom
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        self.uuid = UUID(uuid: (
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
            bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        ))
    }

    /// Whether this id is the one derived from `publicKey` (see ``init(publicKey:)``).
    public func isDerived(from publicKey: some DataProtocol) -> Bool {
        self == NodeID(publicKey: publicKey)
    }

    /// Parses the canonical textual form (`E621E1F8-C36C-495A-93FC-0C247A3E6E5F`); `nil` if malformed.
    public init?(uuidString: String) {
        guard let uuid = UUID(uuidString: uuidString) else { return nil }
        self.uuid = uuid
    }

    /// Builds an id from its 16-byte binary form; `nil` unless exactly 16 bytes are given.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let b = Array(bytes)
        self.uuid = UUID(uuid: (
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
            b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
        ))
    }

    /// The 16-byte binary form, as carried in frames and storage keys.
    public var bytes: [UInt8] {
        withUnsafeBytes(of: uuid.uuid) { Array($0) }
    }

    public var description: String { uuid.uuidString }

    /// Orders ids by their binary form, so that every node sorts a set of ids the same way.
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}
