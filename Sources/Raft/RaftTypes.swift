import P2PCore

/// A Raft term.
public typealias Term = UInt64
/// A position in the Raft log (the first entry has index 1).
public typealias LogIndex = UInt64

/// What a log entry carries.
public enum EntryKind: UInt8, Sendable {
    /// An application command.
    case normal = 0
    /// The empty entry a new leader appends to commit its term.
    case noop = 1
    /// A new ``Membership`` (encoded in `data`); it takes effect when committed and applied.
    case membership = 2
}

/// One entry of the replicated log.
public struct LogEntry: Equatable, Sendable {
    public let index: LogIndex
    public let term: Term
    public let kind: EntryKind
    public let data: [UInt8]

    public init(index: LogIndex, term: Term, kind: EntryKind = .normal, data: [UInt8] = []) {
        self.index = index
        self.term = term
        self.kind = kind
        self.data = data
    }

    /// The bytes the entry counts for in message and cache budgets (payload plus header).
    public var size: Int { data.count + 24 }
}

/// The state Raft must persist before answering anyone.
public struct HardState: Equatable, Sendable {
    public var term: Term
    public var vote: NodeID?
    public var commit: LogIndex

    public init(term: Term = 0, vote: NodeID? = nil, commit: LogIndex = 0) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }
}

/// The cluster's members: voters decide elections and commitment; learners only replicate.
public struct Membership: Equatable, Sendable {
    public var voters: Set<NodeID>
    public var learners: Set<NodeID>

    public init(voters: Set<NodeID> = [], learners: Set<NodeID> = []) {
        self.voters = voters
        self.learners = learners
    }

    /// Every member, voters and learners.
    public var all: Set<NodeID> { voters.union(learners) }
    /// How many voters make a majority.
    public var quorum: Int { voters.count / 2 + 1 }
}

/// Describes a snapshot: the last entry it covers and the membership in force there.
public struct SnapshotMetadata: Equatable, Sendable {
    public var index: LogIndex
    public var term: Term
    public var membership: Membership

    public init(index: LogIndex, term: Term, membership: Membership) {
        self.index = index
        self.term = term
        self.membership = membership
    }
}

/// A state-machine snapshot produced by the application (``RaftNode/compact(snapshotData:)``).
public struct Snapshot: Equatable, Sendable {
    public var metadata: SnapshotMetadata
    public var data: [UInt8]

    public init(metadata: SnapshotMetadata, data: [UInt8]) {
        self.metadata = metadata
        self.data = data
    }
}

/// What a node persisted, handed back at restart.
public struct PersistedState: Equatable, Sendable {
    public var hardState: HardState
    public var snapshot: Snapshot?
    /// The entries after the snapshot, contiguous and in order.
    public var entries: [LogEntry]

    public init(hardState: HardState, snapshot: Snapshot?, entries: [LogEntry]) {
        self.hardState = hardState
        self.snapshot = snapshot
        self.entries = entries
    }
}

/// A single-server membership change.
public enum MembershipChange: Equatable, Sendable {
    /// Adds a non-voting learner that replicates the log.
    case addLearner(NodeID)
    /// Makes a learner a voter (it should have caught up first).
    case promote(NodeID)
    /// Removes a voter or a learner.
    case remove(NodeID)
}

/// A node's role.
public enum RaftRole: String, Sendable {
    case follower, preCandidate, candidate, leader
}
