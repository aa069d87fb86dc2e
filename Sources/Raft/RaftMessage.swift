import P2PCore

/// A message between Raft nodes.
public struct RaftMessage: Equatable, Sendable {
    public enum Body: Equatable, Sendable {
        /// Replicate `entries` after (`prevIndex`, `prevTerm`); `commit` is the leader's commit.
        case appendEntries(prevIndex: LogIndex, prevTerm: Term, entries: [LogEntry], commit: LogIndex)
        /// Answer to appendEntries or installSnapshot. On success `index` is the follower's last
        /// matching index; on rejection `index` is the rejected `prevIndex` and the hint tells
        /// the leader where to retry (fast backtracking).
        case appendResponse(reject: Bool, index: LogIndex, hintIndex: LogIndex, hintTerm: Term)
        /// Leader liveness; `commit` is capped at what the follower is known to hold. `readRound`
        /// is the leader's latest read-index round (see ``RaftNode/readIndex(context:)``).
        case heartbeat(commit: LogIndex, readRound: UInt64)
        /// Answer to a heartbeat, echoing its `readRound` (0 when answering a stale leader).
        case heartbeatResponse(readRound: UInt64)
        /// A (pre-)vote request; `transfer` marks a leadership transfer that bypasses leases.
        case requestVote(lastIndex: LogIndex, lastTerm: Term, preVote: Bool, transfer: Bool)
        case voteResponse(granted: Bool, preVote: Bool)
        /// A snapshot for a follower whose missing entries were compacted away.
        case installSnapshot(Snapshot)
        /// Leadership transfer: campaign now.
        case timeoutNow
        /// Commands a follower proposed, forwarded to the leader to append (etcd's `MsgProp`).
        case propose(commands: [[UInt8]])
        /// A follower asks the leader for a read index on behalf of its request `context`.
        case readIndex(context: UInt64)
        /// The leader's confirmed read index for a follower's request `context`.
        case readIndexResponse(index: LogIndex, context: UInt64)
    }

    public var from: NodeID
    public var to: NodeID
    public var term: Term
    public var body: Body

    public init(from: NodeID, to: NodeID, term: Term, body: Body) {
        self.from = from
        self.to = to
        self.term = term
        self.body = body
    }
}
