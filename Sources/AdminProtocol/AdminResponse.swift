import P2PCore

/// A server's answer to an ``AdminRequest``.
public enum AdminResponse: Codable, Equatable, Sendable {
    case status(ClusterStatus)
    case serverStatus(ServerStatus)
    /// The answer to ``AdminRequest/clients``: the first page only.
    case clients([ClientSummary])
    /// The answer to ``AdminRequest/clientPage(after:limit:)``: `next` is where the next page
    /// starts (ask with it as `after`), `nil` on the last page.
    case clientPage([ClientSummary], next: NodeID?)
    case mailbox(MailboxReport)
    /// The request took effect; `detail` says what happened (e.g. "purged 12 messages").
    case done(detail: String)
    case digest(appliedIndex: UInt64, sha256: String)
    /// Whether stopping a server keeps a quorum, and whether it is ready (``AdminRequest/safeToStop(_:)``).
    case safeToStop(SafeToStopReport)
    case failed(AdminFailure)
    case path(PairPathDiagnosis)
    case pathFacts(PathFacts)
}

/// Why an admin request failed.
public struct AdminFailure: Error, Codable, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// The client, message or server named does not exist.
        case notFound
        /// The request makes no sense as given (e.g. removing the last voter).
        case invalid
        /// The cluster cannot do it now (no leader, not enough servers, a change under way).
        case unavailable
        /// The admin secret is missing or wrong.
        case unauthorized
    }

    public var kind: Kind
    public var message: String
    public var description: String { message }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// One server as the cluster sees it.
public struct ServerStatus: Codable, Equatable, Sendable {
    public var id: NodeID
    public var address: String
    /// `leader`, `follower`, `candidate`, `preCandidate`, `learner`; `unreachable` when the
    /// asked server could not get an answer from it.
    public var role: String
    public var reachable: Bool
    public var leader: NodeID?
    public var term: UInt64
    public var commitIndex: UInt64
    public var appliedIndex: UInt64
    public var voter: Bool
    /// Messages (and payload bytes) this server accepted from clients into mailboxes since it
    /// started: what the relay carried (direct tunnels carry the rest).
    public var relayedMessages: UInt64
    public var relayedBytes: UInt64
    /// How this server reaches each other member (empty when it did not answer).
    public var links: [ServerLinkStatus] = []

    public init(
        id: NodeID, address: String, role: String, reachable: Bool, leader: NodeID?, term: UInt64, commitIndex: UInt64, appliedIndex: UInt64, voter: Bool,
        relayedMessages: UInt64 = 0, relayedBytes: UInt64 = 0
    ) {
        self.relayedMessages = relayedMessages
        self.relayedBytes = relayedBytes
        self.id = id
        self.address = address
        self.role = role
        self.reachable = reachable
        self.leader = leader
        self.term = term
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.voter = voter
    }
}

/// How one server reaches another member.
public struct ServerLinkStatus: Codable, Equatable, Sendable {
    /// How a pair of servers is linked.
    public enum Kind: String, Codable, Sendable {
        /// A TCP connection this server dialled.
        case tcpOut = "tcp-out"
        /// A TCP connection the peer dialled.
        case tcpIn = "tcp-in"
        /// A reliable-datagram tunnel over a hole-punched UDP path.
        case udpPunched = "udp-punched"
        /// No link of their own: frames go through another member (``ServerLinkStatus/via``).
        case relayed
        /// Not linked at all.
        case none
    }

    public var peer: NodeID
    public var kind: Kind
    /// The member that carries the pair's frames when ``kind`` is ``Kind/relayed``.
    public var via: NodeID?
    /// Why the pair is not linked directly (last dial or punch failure), when it is not.
    public var reason: String?

    public init(peer: NodeID, kind: Kind, via: NodeID? = nil, reason: String? = nil) {
        self.peer = peer
        self.kind = kind
        self.via = via
        self.reason = reason
    }
}

/// Every member's status and whether the cluster is healthy.
public struct ClusterStatus: Codable, Equatable, Sendable {
    public var servers: [ServerStatus]
    /// The leader the reachable servers agree on, if they do.
    public var leader: NodeID?
    /// One leader agreed on by every reachable server, and a majority of voters reachable.
    public var healthy: Bool
    /// Why not, when not healthy.
    public var problems: [String]

    public init(servers: [ServerStatus], leader: NodeID?, healthy: Bool, problems: [String]) {
        self.servers = servers
        self.leader = leader
        self.healthy = healthy
        self.problems = problems
    }
}

/// One client in the registry.
public struct ClientSummary: Codable, Equatable, Sendable {
    public var id: NodeID
    public var online: Bool
    public var attachedServers: [NodeID]
    public var wanAddresses: [String]
    public var lanAddresses: [String]
    public var listenAddress: String
    public var listenPort: UInt16
    public var lastSeenMillis: UInt64
    public var mailboxMessages: Int
    public var mailboxBytes: Int
    /// Enqueue time of the oldest message in the mailbox (milliseconds since 1970).
    public var oldestMessageMillis: UInt64?
    /// The public UDP mapping the answering server observed for the client (for hole punching).
    public var udpAddress: String?
    /// The peers the client reaches over a direct tunnel, as it last told the answering server.
    public var directPeers: [NodeID]
    /// The peers the client sent messages to through the answering server's relay since it linked
    /// to it (`nil` from a server that does not track them).
    public var relayedPeers: [NodeID]?

    public init(
        id: NodeID, online: Bool, attachedServers: [NodeID], wanAddresses: [String], lanAddresses: [String],
        listenAddress: String, listenPort: UInt16, lastSeenMillis: UInt64, mailboxMessages: Int, mailboxBytes: Int,
        oldestMessageMillis: UInt64?, udpAddress: String? = nil, directPeers: [NodeID] = []
    ) {
        self.udpAddress = udpAddress
        self.directPeers = directPeers
        self.id = id
        self.online = online
        self.attachedServers = attachedServers
        self.wanAddresses = wanAddresses
        self.lanAddresses = lanAddresses
        self.listenAddress = listenAddress
        self.listenPort = listenPort
        self.lastSeenMillis = lastSeenMillis
        self.mailboxMessages = mailboxMessages
        self.mailboxBytes = mailboxBytes
        self.oldestMessageMillis = oldestMessageMillis
    }
}

/// One client's mailbox.
public struct MailboxReport: Codable, Equatable, Sendable {
    public struct Message: Codable, Equatable, Sendable {
        public var id: MessageID
        public var sender: NodeID
        public var size: Int
        public var enqueuedAtMillis: UInt64
        /// When it expires (milliseconds since 1970; `nil`: never).
        public var expiresAtMillis: UInt64?
        public var payload: [UInt8]
        /// Its place in the mailbox's arrival order (`nil` from servers before pagination).
        public var arrival: UInt64?

        public init(id: MessageID, size: Int, enqueuedAtMillis: UInt64, expiresAtMillis: UInt64? = nil, payload: [UInt8], arrival: UInt64? = nil) {
            self.arrival = arrival
            self.expiresAtMillis = expiresAtMillis
            self.id = id
            self.sender = id.sender
            self.size = size
            self.enqueuedAtMillis = enqueuedAtMillis
            self.payload = payload
        }
    }

    public var client: NodeID
    public var messages: Int
    public var bytes: Int
    public var oldestMessageMillis: UInt64?
    public var peek: [Message]
    /// When more messages follow the listed ones: the arrival number to ask after
    /// (``AdminRequest/mailbox(client:peek:after:)``); `nil` when none do (or from servers before
    /// pagination).
    public var next: UInt64?

    public init(client: NodeID, messages: Int, bytes: Int, oldestMessageMillis: UInt64?, peek: [Message], next: UInt64? = nil) {
        self.next = next
        self.client = client
        self.messages = messages
        self.bytes = bytes
        self.oldestMessageMillis = oldestMessageMillis
        self.peek = peek
    }
}
