import P2PCore

/// Tunables of one Raft node. Time is counted in ticks; the driver decides how long a tick is.
public struct RaftConfiguration: Sendable {
    /// This node's id.
    public var id: NodeID
    /// Ticks without hearing from a leader before a follower campaigns; the actual timeout is
    /// randomised in `[electionTicks, 2 × electionTicks)`.
    public var electionTicks: Int = 10
    /// Ticks between a leader's heartbeats.
    public var heartbeatTicks: Int = 1
    /// Most entries in one AppendEntries message.
    public var maxEntriesPerMessage: Int = 256
    /// Most entry bytes in one AppendEntries message (at least one entry is always sent).
    public var maxBytesPerMessage: Int = 1 << 20
    /// Most AppendEntries in flight to one follower (pipelining window).
    public var maxInflightMessages: Int = 64
    /// Campaign with a pre-vote round first, so a partitioned node cannot inflate terms.
    public var preVote: Bool = true
    /// A leader that has not heard from a majority within an election timeout steps down, and
    /// followers ignore vote requests while their leader is alive (leader lease).
    public var checkQuorum: Bool = true
    /// Payload bytes of durable, applied entries kept in memory for followers that lag a little;
    /// older payloads are read from the node's ``RaftLogStorage`` (when it has one).
    public var maxCachedLogBytes: Int = 16 << 20
    /// The leader writes its log in parallel with replicating it (Raft thesis §10.2.1): its
    /// readies may send before they persist (``RaftReady/messagesMayPrecedePersistence``), and
    /// its own log counts towards a commit only once the driver reported it durable
    /// (``RaftNode/persisted(_:)``, required after every ready in this mode).
    public var leaderPersistsInParallel = false
    /// Seed of the node's random source (election timeout jitter).
    public var randomSeed: UInt64 = 0

    public init(id: NodeID, randomSeed: UInt64 = 0) {
        self.id = id
        self.randomSeed = randomSeed
    }
}
