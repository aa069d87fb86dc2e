import Mailbox
import P2PCore

/// How a ``P2PServer`` starts.
public struct ServerConfiguration: Sendable {
    /// Host to listen on for servers and clients.
    public var listenHost: String = "127.0.0.1"
    /// Port to listen on (0 picks a free port).
    public var listenPort: Int = 7400
    /// The `host:port` other servers dial this one at (default: the listen address; set it when
    /// listening on every interface).
    public var advertiseAddress: String?
    /// The other servers' `host:port` addresses. A server without data forms a new cluster with
    /// them when none belongs to one yet (all first members must list each other), and joins
    /// theirs otherwise: to add a server to a running cluster, give it any member's address.
    public var peers: [String] = []
    /// Where the server keeps its identity and its LMDB data.
    public var dataDirectory: String = "./p2pcore-data"
    /// The cluster secret: nothing joins the cluster or reads a mailbox without it.
    public var secret: String = "p2pcore-dev-secret"
    /// When set, admin requests (`mailbox-admin`) must carry this secret too: the cluster
    /// secret alone, which every client holds, then cannot read or change other mailboxes.
    public var adminSecret: String?
    /// Called on every leadership change with the new leader's id (`nil`: no leader known).
    public var onLeaderChange: @Sendable (NodeID?) -> Void = { _ in }
    /// Raft's tick; elections time out after 10 to 20 ticks, heartbeats go out every tick.
    public var tickInterval: Duration = .milliseconds(100)
    /// Per-client mailbox limits (the same on every server of a cluster).
    public var mailboxLimits = MailboxLimits()
    /// Largest message payload a client may relay.
    public var maximumMessageSize = 1 << 20
    /// How long a pushed message may stay unacknowledged before the server pushes the mailbox again.
    public var redeliveryPatience: Duration = .seconds(3)

    public init() {}
}
