import P2PCore

/// The first frame each side of a server-to-server link sends: how to reach the sender, and
/// whether it already belongs to a cluster. A server without Raft state decides from its peers'
/// hellos whether to form a new cluster with them or to join theirs.
package struct ServerHello: Equatable, Sendable {
    /// The `host:port` other servers dial this server at.
    package var address: String
    /// The sender has Raft state or knows a cluster membership: it is part of a running cluster.
    package var isMember: Bool
    /// How many peers the sender was configured with (servers forming a new cluster must agree).
    package var configuredPeers: Int
    /// The voters of the new cluster the sender formed in this run (empty otherwise). A first
    /// member that sees itself among them forms the same cluster: its first log entry is then
    /// identical, so it never has to wait for the founder to replicate it.
    package var formedVoters: [NodeID] = []
    /// The servers the sender has a link of its own to, with the address each said it is
    /// reached at: a server with no link to one of them can reach it through the sender, and
    /// learns which id stands behind an address it cannot dial.
    package var neighbours: [Neighbour] = []

    package struct Neighbour: Equatable, Sendable {
        package var id: NodeID
        package var address: String

        package init(id: NodeID, address: String) {
            self.id = id
            self.address = address
        }
    }

    /// The ids in ``neighbours``.
    var linked: [NodeID] { neighbours.map(\.id) }

    private static let version: UInt8 = 2
    /// At most this many neighbours are listed (a cluster is a handful of servers).
    static let maximumNeighbours = 64

    package func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.version)
        writer.write(address)
        writer.write(isMember)
        writer.write(UInt32(clamping: configuredPeers))
        writer.write(array: formedVoters) { $0.write($1) }
        writer.write(array: Array(neighbours.prefix(Self.maximumNeighbours))) { writer, neighbour in
            writer.write(neighbour.id)
            writer.write(neighbour.address)
        }
        return writer.bytes
    }

    package init(address: String, isMember: Bool, configuredPeers: Int, formedVoters: [NodeID] = [], neighbours: [Neighbour] = []) {
        self.address = address
        self.isMember = isMember
        self.configuredPeers = configuredPeers
        self.formedVoters = formedVoters
        self.neighbours = neighbours
    }

    package init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("hello.version")
        guard version == Self.version else { throw .malformed(field: "hello.version", reason: "unsupported version \(version)") }
        address = try reader.readString("hello.address")
        guard address.utf8.count <= 256 else { throw .tooLarge(field: "hello.address", length: address.utf8.count, limit: 256) }
        isMember = try reader.readBool("hello.member")
        configuredPeers = Int(try reader.readUInt32("hello.peers"))
        formedVoters = try reader.readArray("hello.formed", limit: Self.maximumNeighbours) { r throws(DecodingError) in try r.readNodeID("hello.voter") }
        neighbours = try reader.readArray("hello.neighbours", limit: Self.maximumNeighbours) { r throws(DecodingError) in
            Neighbour(id: try r.readNodeID("hello.neighbour"), address: try r.readString("hello.neighbourAddress"))
        }
        try reader.expectEnd()
    }
}
