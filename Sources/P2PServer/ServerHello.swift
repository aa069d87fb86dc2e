import P2PCore

/// The first frame each side of a server-to-server link sends: how to reach the sender, and
/// whether it already belongs to a cluster. A server without Raft state decides from its peers'
/// hellos whether to form a new cluster with them or to join theirs.
struct ServerHello: Equatable, Sendable {
    /// The `host:port` other servers dial this server at.
    var address: String
    /// The sender has Raft state or knows a cluster membership: it is part of a running cluster.
    var isMember: Bool
    /// How many peers the sender was configured with (servers forming a new cluster must agree).
    var configuredPeers: Int

    private static let version: UInt8 = 1

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.version)
        writer.write(address)
        writer.write(isMember)
        writer.write(UInt32(clamping: configuredPeers))
        return writer.bytes
    }

    init(address: String, isMember: Bool, configuredPeers: Int) {
        self.address = address
        self.isMember = isMember
        self.configuredPeers = configuredPeers
    }

    init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("hello.version")
        guard version == Self.version else { throw .malformed(field: "hello.version", reason: "unsupported version \(version)") }
        address = try reader.readString("hello.address")
        isMember = try reader.readBool("hello.member")
        configuredPeers = Int(try reader.readUInt32("hello.peers"))
        try reader.expectEnd()
    }
}
