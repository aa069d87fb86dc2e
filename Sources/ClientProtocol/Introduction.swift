import P2PCore

/// What a server tells a client about a peer it may reach directly: where to try it, and the
/// token and conversation both sides use for the UDP hole punch.
public struct Introduction: Equatable, Sendable {
    /// The other client.
    public var peer: NodeID
    /// `host:port` where the peer accepts direct TCP links (its LAN addresses).
    public var tcp: [String]
    /// `host:port` candidates for UDP: the peer's LAN addresses and its public mapping as servers observed it.
    public var udp: [String]
    /// 16 random bytes both sides put in their punch probes.
    public var token: [UInt8]
    /// The KCP conversation id of the tunnel, once punched.
    public var conversation: UInt32
    /// Whether this side asked for the introduction (it dials; the other side listens).
    public var initiator: Bool

    public init(peer: NodeID, tcp: [String], udp: [String], token: [UInt8], conversation: UInt32, initiator: Bool) {
        self.peer = peer
        self.tcp = tcp
        self.udp = udp
        self.token = token
        self.conversation = conversation
        self.initiator = initiator
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(peer)
        writer.write(array: tcp) { $0.write($1) }
        writer.write(array: udp) { $0.write($1) }
        writer.write(lengthPrefixed: token)
        writer.write(conversation)
        writer.write(initiator)
    }

    public static func decode(from reader: inout ByteReader) throws(DecodingError) -> Introduction {
        Introduction(
            peer: try reader.readNodeID("intro.peer"),
            tcp: try reader.readArray("intro.tcp", limit: 64) { r throws(DecodingError) in try r.readString("intro.tcp") },
            udp: try reader.readArray("intro.udp", limit: 64) { r throws(DecodingError) in try r.readString("intro.udp") },
            token: try reader.readLengthPrefixed("intro.token"),
            conversation: try reader.readUInt32("intro.conversation"),
            initiator: try reader.readBool("intro.initiator")
        )
    }
}
