import P2PCore

/// What `mailbox-admin` asks a server (one request, one ``AdminResponse``, in order).
///
/// Admin traffic is rare and small, so it travels as JSON inside the link's sealed frames.
public enum AdminRequest: Codable, Equatable, Sendable {
    /// Every member's status, gathered by the server asked (members it cannot reach are marked so).
    case status
    /// Only the asked server's own status (what servers ask each other for ``status``).
    case serverStatus
    /// The first page of the clients known to the cluster (at most ``maximumPageSize``), answered
    /// by ``AdminResponse/clients(_:)``, which cannot say whether more follow: what operators'
    /// tools from before pagination ask. New ones ask ``clientPage(after:limit:)``.
    case clients
    /// One page of the clients known to the cluster, ordered by id: those after `after` (from the
    /// first when `nil`), at most `limit` and never more than ``maximumPageSize``. Answered by
    /// ``AdminResponse/clientPage(_:next:)``.
    case clientPage(after: NodeID?, limit: Int)
    /// One client's mailbox: depth, bytes and up to `peek` messages (at most ``maximumPageSize``)
    /// in arrival order, after arrival number `after` (from the head when `nil`; see
    /// ``MailboxReport/next``).
    case mailbox(client: NodeID, peek: Int, after: UInt64? = nil)
    /// Removes every message of a mailbox, through Raft.
    case purge(client: NodeID)
    /// Removes one message, through Raft.
    case delete(client: NodeID, message: MessageID)
    /// Adds the server listening at `address` (it must be running with no Raft state, or be a
    /// server removed earlier) to the cluster.
    case addServer(address: String)
    /// Removes a server from the cluster (its clients are detached from it).
    case removeServer(NodeID)
    /// Moves leadership to `target`, or to the most up-to-date other voter.
    case transferLeadership(target: NodeID?)
    /// Snapshots the asked server's state and compacts its Raft log.
    case snapshot
    /// The SHA-256 of the asked server's applied state and the index it reflects (replicas that
    /// applied the same index must agree).
    case digest
    /// Whether stopping server `id` would keep a quorum of reachable, caught-up voters, and
    /// whether that server is itself ready (a member with a known leader, caught up).
    case safeToStop(NodeID)
    /// Why clients `a` and `b` are or are not linked directly: each side's NAT as the servers
    /// infer it, and what the clients reported about the pair (``PairPathDiagnosis``).
    case path(NodeID, NodeID)
    /// The asked server's own path facts (``PathFacts``) about `clients` (all when `nil`): what
    /// servers ask each other for ``path(_:_:)``.
    case pathFacts(clients: [NodeID]?)

    /// The most clients or messages one answer lists, whatever is asked.
    public static let maximumPageSize = 1_000
}
