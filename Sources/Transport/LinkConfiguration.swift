import P2PCore

/// What a node needs to open or accept links.
public struct LinkConfiguration: Sendable {
    /// This node's identity (its id and the key that proves it).
    public var identity: NodeIdentity
    /// The cluster secret, the credential of the ``LinkRole/client`` role: peers on a client link
    /// prove they know it; it also salts that link's session keys.
    public var secret: String
    /// The server secret, the credential of the ``LinkRole/server`` role (only servers hold it).
    public var serverSecret: String?
    /// The admin secret, the credential of the ``LinkRole/admin`` role (remote operators).
    public var adminSecret: String?
    /// What this node states it is when it listens (in its hello): ``LinkRole/client`` by default,
    /// servers set ``LinkRole/server``.
    public var role: LinkRole = .client
    /// The link roles a listener accepts from dialers (default: clients only). A role is refused
    /// anyway if this node lacks its secret.
    public var acceptedRoles: Set<LinkRole> = [.client]
    /// Random per process start, so a restarted node is never mistaken for its former self.
    public var incarnation: UInt64
    /// Largest frame accepted once the handshake is done (default 16 MiB).
    public var maximumFrameSize: Int = 16 << 20
    /// Largest frame accepted before the handshake is done (default 1 KiB): an unauthenticated peer
    /// can never make this node buffer more.
    public var maximumHandshakeFrameSize: Int = 1024
    /// Bytes a link may have queued for sending (default 16 MiB); a send beyond it closes the link
    /// with ``TransportError/overloaded(_:)`` (the peer does not read fast enough).
    public var maximumQueuedBytes: Int = 16 << 20
    /// Counts the bytes queued on every link to a client made with this configuration, together
    /// (`nil`: not counted).
    public var clientQueuedBytes: QueuedBytesGauge?
    /// Received frames a link buffers for its consumer (default 64); while that many are
    /// unconsumed the link stops reading from the peer, which then stops sending.
    public var maximumInboundFrames: Int = 64
    /// A listener's handshakes in progress, in all (default 256). At the cap the listener accepts
    /// no more connections until a handshake ends (each ends within ``handshakeTimeout``): the
    /// next ones wait in the listen queue. Kept small so that, when handshakes are CPU-bound, each
    /// admitted one finishes in time instead of all of them slowing down past their timeouts.
    public var maximumPendingHandshakes: Int = 256
    /// Connections a listener leaves queued in the kernel before it accepts them (default 1024;
    /// the kernel caps it at `net.core.somaxconn`). Beyond it the kernel drops new connection
    /// attempts, which their dialers retry; a queued connection costs the listener's process
    /// nothing, but its dialer's handshake timeout runs while it waits.
    public var listenBacklog: Int = 1024
    /// A listener's handshakes in progress from one IP address (default 16); one more connection
    /// from that address is closed at once.
    public var maximumPendingHandshakesPerHost: Int = 16
    /// A listener's established links, in all (default 16 384).
    public var maximumLinks: Int = 16_384
    /// A listener's established links from one IP address (default 1 024).
    public var maximumLinksPerHost: Int = 1_024
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

    /// The secret that proves `role`, if this node holds it (an empty server or admin secret
    /// counts as none).
    public func secret(for role: LinkRole) -> String? {
        switch role {
        case .client: secret
        case .server: serverSecret.flatMap { $0.isEmpty ? nil : $0 }
        case .admin: adminSecret.flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    /// The limit on frames before the handshake is done (never above ``maximumFrameSize``).
    var handshakeFrameLimit: Int { min(maximumHandshakeFrameSize, maximumFrameSize) }
}

/// Who is at the other end of a link, as proven by the handshake.
public struct PeerInfo: Sendable, Equatable {
    public let id: NodeID
    public let incarnation: UInt64
    public let publicKey: [UInt8]
    /// The peer's address as this side sees it (`host:port`), if known.
    public let remoteAddress: String?
    /// What the peer is. On a listener's link: the role the dialer declared and proved with that
    /// role's secret. On a dialer's link: the role the listener stated in its hello — authenticated
    /// with the secret of the role this side declared, so a listener claiming ``LinkRole/server``
    /// on a ``LinkRole/client`` link has only proven the cluster secret.
    public let role: LinkRole
    /// A hash of this link's handshake transcript: equal on both ends of the link, different on
    /// every other link. Signing it proves something to the peer of this link only (a server
    /// proves it holds the cluster key this way; a relayed or replayed proof does not verify).
    public let channelBinding: [UInt8]
}
