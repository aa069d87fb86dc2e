import P2PCore

/// What a node needs to open or accept links.
public struct LinkConfiguration: Sendable {
    /// This node's identity (its id and the key that proves it).
    public var identity: NodeIdentity
    /// The cluster secret: peers prove they know it; it also salts the session keys.
    public var secret: String
    /// Random per process start, so a restarted node is never mistaken for its former self.
    public var incarnation: UInt64
    /// Largest frame accepted (default 16 MiB).
    public var maximumFrameSize: Int = 16 << 20
    /// Time allowed for the handshake.
    public var handshakeTimeout: Duration = .seconds(5)
    /// Time allowed to establish a TCP connection.
    public var connectTimeout: Duration = .seconds(5)
    /// UDP tunnels (``UDPEndpoint/tunnel(to:conversation:role:timeout:vet:)``): a tunnel whose peer
    /// sent nothing at all for this long is closed, its link failing with
    /// ``TransportError/connectionLost(_:)``. Idle tunnels send a keepalive every second (or every
    /// quarter of this, if shorter), so a live peer is never silent that long.
    public var deadAfter: Duration = .seconds(5)

    public init(identity: NodeIdentity, secret: String, incarnation: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        self.identity = identity
        self.secret = secret
        self.incarnation = incarnation
    }
}

/// Who is at the other end of a link, as proven by the handshake.
public struct PeerInfo: Sendable, Equatable {
    public let id: NodeID
    public let incarnation: UInt64
    public let publicKey: [UInt8]
    /// The peer's address as this side sees it (`host:port`), if known.
    public let remoteAddress: String?
}
