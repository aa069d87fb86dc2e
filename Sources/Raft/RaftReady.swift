import P2PCore

/// Everything a node asks its driver to do, collected by ``RaftNode/ready()``.
///
/// The driver contract, in this order, before giving the node any further input:
/// 1. **Persist** atomically (one transaction): truncate the stored log from `truncateFrom`,
///    append `entries`, store `hardState` and `snapshot` (discarding the log it covers).
/// 2. **Send** `messages` (after step 1: a vote or an acknowledgement must never reach a peer
///    before what it promises is on disk).
/// 3. **Apply**: restore the state machine from `snapshotToApply`, then apply
///    `committedEntries` in order (re-applying an entry at or below the state machine's applied
///    index must be a no-op: after a restart the node hands out committed entries again).
///
/// A crash may fall between any two steps; see ``RaftNode/init(configuration:restoring:)`` for
/// what a restarting driver reconciles.
public struct RaftReady: Equatable, Sendable {
    /// The new hard state, if it changed.
    public var hardState: HardState?
    /// Whether `hardState` has a new term or vote (not only a new commit index).
    public var changesTermOrVote = false
    /// Remove stored entries with index >= this before appending `entries`.
    public var truncateFrom: LogIndex?
    /// New log entries to persist.
    public var entries: [LogEntry] = []
    /// A snapshot to persist (received from the leader, or made locally by compaction).
    public var snapshot: Snapshot?
    /// Messages to send once the above is durable.
    public var messages: [RaftMessage] = []
    /// A snapshot from the leader to load into the state machine (replaces its state).
    public var snapshotToApply: Snapshot?
    /// Committed entries to apply, in order.
    public var committedEntries: [LogEntry] = []
    /// Set when the known leader changed: the new leader (`nil`: none) and the term.
    public var leaderChange: LeaderChange?
    /// Set when the applied membership changed.
    public var membership: Membership?
    /// Whether step 2 may come before step 1: a leader's messages (appends, heartbeats) promise
    /// nothing about its own disk, so it may replicate while it writes (only with
    /// ``RaftConfiguration/leaderPersistsInParallel``; never when the term or vote changed).
    public var messagesMayPrecedePersistence = false
    /// With ``RaftConfiguration/leaderPersistsInParallel``: the end of the log this ready
    /// persists, to hand back through ``RaftNode/persisted(_:)`` once step 1 is done.
    public var durableMark: LogPosition?
    /// Read requests of this node (``RaftNode/readIndex(context:)``) the leader confirmed: once
    /// the state machine applied a state's `index`, reading it is linearizable.
    public var readStates: [ReadState] = []

    /// An index in the log with the term of its entry.
    public struct LogPosition: Equatable, Sendable {
        public var index: LogIndex
        public var term: Term
    }

    /// A leadership change as observed by this node.
    public struct LeaderChange: Equatable, Sendable {
        public var leader: NodeID?
        public var term: Term
    }

    public init() {}

    /// Whether there is nothing to do.
    public var isEmpty: Bool {
        hardState == nil && truncateFrom == nil && entries.isEmpty && snapshot == nil && messages.isEmpty
            && snapshotToApply == nil && committedEntries.isEmpty && leaderChange == nil && membership == nil
            && readStates.isEmpty
    }

    /// Whether step 1 of the contract has anything to write.
    public var needsPersistence: Bool {
        hardState != nil || truncateFrom != nil || !entries.isEmpty || snapshot != nil
    }

    /// Whether step 1 must be durable before step 2: it appends, truncates, stores a snapshot,
    /// or changes the term or the vote. A hard state that only moved the commit index need not
    /// be: the commit index is volatile state in Raft (a node that lost it learns it again from
    /// the leader, and a stored one is never ahead of what a quorum holds), and what a driver
    /// writes with it, the applied state, is redone from the durable log after a crash.
    public var needsDurability: Bool {
        truncateFrom != nil || !entries.isEmpty || snapshot != nil || changesTermOrVote
    }
}
