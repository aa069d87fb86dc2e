import P2PCore
import Raft

/// Whether a server is ready to serve (`/readyz`): a member of a cluster that knows a leader and
/// has applied what it knows to be committed. Pure: the caller reads the replica.
public struct Readiness: Equatable, Sendable, Codable {
    public var ready: Bool
    /// Why not (empty when ready).
    public var reason: String

    /// How far the applied index may trail the commit index and still count as caught up: the
    /// replica applies committed entries in the same LMDB transaction that persists them, so a
    /// lag beyond a few batches means the server is really behind (restoring, or overloaded).
    public static let appliedLag: LogIndex = 64

    public static func evaluate(
        formed: Bool, isMember: Bool, role: RaftRole?, leader: NodeID?, commitIndex: LogIndex, appliedIndex: LogIndex
    ) -> Readiness {
        guard formed else { return Readiness(ready: false, reason: "this server has not formed or joined a cluster yet") }
        guard isMember else { return Readiness(ready: false, reason: "this server is not a member of the cluster (joining, or removed)") }
        guard let leader else {
            let doing = role.map { $0 == .follower ? "" : " (it is \($0.rawValue))" } ?? ""
            return Readiness(ready: false, reason: "no leader known: this server is cut off from a quorum or an election is under way\(doing)")
        }
        guard appliedIndex + appliedLag >= commitIndex else {
            return Readiness(ready: false, reason: "catching up: applied \(appliedIndex) of \(commitIndex) committed entries (leader \(leader))")
        }
        return Readiness(ready: true, reason: "")
    }
}

extension P2PServer {
    /// This server's readiness now (see ``Readiness``).
    public func readiness() async -> Readiness {
        guard let replica else {
            return Readiness.evaluate(formed: false, isMember: false, role: nil, leader: nil, commitIndex: 0, appliedIndex: 0)
        }
        return Readiness.evaluate(
            formed: true, isMember: await replica.membership.all.contains(id), role: await replica.role, leader: await replica.leader,
            commitIndex: await replica.commitIndex, appliedIndex: await replica.appliedIndex
        )
    }
}
