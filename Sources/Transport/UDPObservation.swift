import P2PCore

/// An authenticated observe request that reached a server's ``UDPEndpoint``: who asked, with which
/// key, and the source address (`ip:port`) the request came from.
public struct UDPObservation: Sendable, Equatable {
    /// The client's id, as it claimed it.
    public let client: NodeID
    /// The Ed25519 public key the request was signed with (check it against the registry).
    public let publicKey: [UInt8]
    /// The source address the server saw: the client's public mapping if it is behind a NAT.
    public let address: String

    /// An observation of `client`, which signed with `publicKey`, seen at `address`.
    public init(client: NodeID, publicKey: [UInt8], address: String) {
        self.client = client
        self.publicKey = publicKey
        self.address = address
    }
}
