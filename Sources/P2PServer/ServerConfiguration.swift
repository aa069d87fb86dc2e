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
    /// The cluster secret: the client credential. Every client holds it; it admits a client to
    /// the cluster and nothing more (see docs/SECURITY.md). At least 128 bits of entropy
    /// (`Secret.generate()`) unless ``insecureDevelopmentMode`` is on.
    public var secret: String = ""
    /// The server secret: the server credential, held by servers only. Links between servers
    /// prove it, so no client can act as a server.
    public var serverSecret: String = ""
    /// The operator credential for remote admin (`mailbox-admin --server`). Without it, admin
    /// is only possible through the Unix socket `<data directory>/admin.sock` (mode 0600).
    public var adminSecret: String?
    /// Where the monitor listens (`host:port`): `/healthz`, `/readyz`, `/status`, `/metrics` and
    /// the status page at `/` (see README "Monitoring"). `nil` (the default): no monitor. With an
    /// ``adminSecret`` everything but `/healthz` and `/readyz` requires it; without one the monitor
    /// serves everything to anyone who can connect, so bind it to localhost then.
    public var monitorAddress: HostPort?
    /// Accepts missing or weak secrets (replaced by fixed development secrets): for a demo on
    /// one machine only, never in production.
    public var insecureDevelopmentMode = false
    /// Sends a client may relay per second on one link (a token bucket of twice this size);
    /// a faster client is slowed down (its link is read more slowly), not refused.
    public var clientSendRate: Double = 20_000
    /// Requests one client link may have in progress; further requests wait (backpressure).
    public var maximumRequestsInFlight = 256
    /// How long a client's acknowledgements may wait to be committed together. Nothing waits on
    /// that commit (the sender's receipt goes at once; the commit only frees the mailbox), so at
    /// a trickle many share one Raft entry instead of taking one (and a sync on every server)
    /// each; a mailbox at its limit is freed that much later. A batch holding half of
    /// ``maximumRequestsInFlight`` goes at once. `.zero`: each commit takes whatever arrived
    /// while the previous one ran.
    public var acknowledgementHold: Duration = .milliseconds(20)
    /// Introductions (direct-path requests) one client may ask for per peer and second.
    public var introductionInterval: Duration = .milliseconds(500)
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
    /// The time to live this server gives a relayed message that has none (`nil`: such messages
    /// never expire). Not given to a message its sender offered on a direct path first (the
    /// recipient may have it already): see docs/DELIVERY.md, "Expiry". Set it alike on every server.
    public var defaultMessageTimeToLive: Duration?
    /// The longest time to live this server lets a relayed message have (`nil`: no cap); a longer
    /// one, or the default, is cut to it.
    public var maximumMessageTimeToLive: Duration?
    /// How often the leader looks for messages whose expiry passed and proposes to expire them.
    public var expirySweepInterval: Duration = .milliseconds(250)
    /// The Raft log is compacted every this many applied entries (and every 32 MiB of them).
    /// Compacting costs nothing but the log's deletion: the mailboxes are the snapshot.
    public var compactEvery: UInt64 = 10_000
    /// Bytes of mailbox state per chunk of a snapshot streamed to a server that lags behind
    /// the log (or joins).
    public var snapshotChunkBytes = 1 << 20
    /// File-backed resident bytes (the binary, its libraries and the database pages reads
    /// mapped) past which the server unmaps the database pages (`nil`: never). Those pages are
    /// clean page cache: the next read maps them again, from memory (a minor fault).
    public var mappedPagesBudget: Int? = 256 << 20
    /// How often the server hands the free memory of its malloc heaps back to the system (`nil`:
    /// never).
    public var heapTrimInterval: Duration? = .seconds(1)

    public init() {}
}
