import DequeModule
import P2PCore

/// The leader's linearizable reads in progress (etcd's `read_only.go`, `ReadOnlySafe`).
///
/// A read takes the leader's commit index when it arrives and a fresh *round* number; the leader
/// sends heartbeats carrying its latest round, followers echo it, and a read is confirmed once a
/// quorum of voters echoed a round at least its own: they still followed this leader after the
/// read arrived, so no other leader can have committed anything newer. Reads are confirmed in
/// arrival order.
struct ReadOnly: Equatable, Sendable {
    struct Request: Equatable, Sendable {
        var index: LogIndex
        var context: UInt64
        /// Who asked: this node, or a follower to answer with ``RaftMessage/Body/readIndexResponse(index:context:)``.
        var from: NodeID
        var round: UInt64
    }

    /// Reads that wait for a quorum, oldest first.
    private(set) var pending: Deque<Request> = []
    /// Reads asked before this leader committed an entry of its term (its commit index may still
    /// be behind the cluster's): they get their index once it has.
    private(set) var postponed: Deque<(from: NodeID, context: UInt64)> = []
    /// The latest round handed out; heartbeats carry it.
    private(set) var round: UInt64 = 0
    /// The highest round each voter echoed in this leadership.
    private var acknowledged: [NodeID: UInt64] = [:]

    /// Reads waiting at once, at most; beyond, a request is dropped (its asker times out).
    static let limit = 4096

    static func == (lhs: ReadOnly, rhs: ReadOnly) -> Bool {
        lhs.pending == rhs.pending && lhs.round == rhs.round && lhs.acknowledged == rhs.acknowledged
            && lhs.postponed.elementsEqual(rhs.postponed) { $0.from == $1.from && $0.context == $1.context }
    }

    /// Forgets every read (leadership gained or lost: askers time out and ask again).
    mutating func reset() {
        pending.removeAll()
        postponed.removeAll()
        acknowledged.removeAll()
    }

    /// Queues a read until the leader committed an entry of its term; `false` when full.
    mutating func postpone(from: NodeID, context: UInt64) -> Bool {
        guard postponed.count < Self.limit else { return false }
        postponed.append((from, context))
        return true
    }

    /// Takes the postponed reads out.
    mutating func takePostponed() -> [(from: NodeID, context: UInt64)] {
        defer { postponed.removeAll() }
        return Array(postponed)
    }

    /// Registers a read at `index`; returns its round, or `nil` when full.
    mutating func add(index: LogIndex, context: UInt64, from: NodeID) -> UInt64? {
        guard pending.count < Self.limit else { return nil }
        round += 1
        pending.append(Request(index: index, context: context, from: from, round: round))
        return round
    }

    /// Records that `voter` echoed `round`.
    mutating func acknowledge(_ round: UInt64, from voter: NodeID) {
        guard round > 0, round <= self.round else { return }
        acknowledged[voter] = max(acknowledged[voter] ?? 0, round)
    }

    /// Removes and returns the reads a quorum of `voters` (the leader `me` counts itself) confirmed.
    mutating func confirmed(voters: Set<NodeID>, quorum: Int, me: NodeID) -> [Request] {
        var ready: [Request] = []
        while let first = pending.first {
            let acks = voters.filter { $0 == me || (acknowledged[$0] ?? 0) >= first.round }.count
            guard acks >= quorum else { break }
            ready.append(first)
            pending.removeFirst()
        }
        return ready
    }
}
