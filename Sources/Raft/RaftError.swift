import P2PCore

/// Why the Raft core refused a request.
public enum RaftError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Only the leader accepts proposals; `leader` is the one this node knows of, if any.
    case notLeader(leader: NodeID?)
    /// A leadership transfer is under way; proposals wait until it ends.
    case transferInProgress
    /// A membership change is still uncommitted, or this leader has not committed an entry of
    /// its own term yet; only one change at a time is safe.
    case membershipChangePending
    /// The change does not fit the current membership (e.g. promoting a non-learner).
    case invalidMembershipChange(String)
    /// The transfer target is not a voter of the cluster.
    case invalidTransferTarget(NodeID)

    public var description: String {
        switch self {
        case .notLeader(let leader): "not the leader (leader: \(leader.map { "\($0)" } ?? "unknown"))"
        case .transferInProgress: "a leadership transfer is in progress"
        case .membershipChangePending: "another membership change is pending"
        case .invalidMembershipChange(let why): "invalid membership change: \(why)"
        case .invalidTransferTarget(let id): "\(id) is not a voter and cannot become leader"
        }
    }
}
