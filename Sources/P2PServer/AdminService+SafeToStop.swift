import AdminProtocol
import P2PCore
import Raft

/// `mailbox-admin server safe-to-stop`: would the cluster keep a quorum without this server?
extension AdminService {
    /// Voters count as caught up when their applied index is within this many entries of the
    /// leader's commit index (statuses are gathered a few milliseconds apart).
    static let safeToStopLag: UInt64 = 64

    func safeToStop(_ target: NodeID, _ replica: ReplicatedMailboxes) async throws -> SafeToStopReport {
        let membership = await replica.membership
        guard membership.all.contains(target) else { throw AdminFailure(.notFound, "server \(target) is not a member of the cluster") }
        let cluster = await clusterStatus(replica)
        return Self.safeToStop(target, voters: membership.voters, cluster: cluster)
    }

    /// The decision, from the members' statuses (pure).
    static func safeToStop(_ target: NodeID, voters: Set<NodeID>, cluster: ClusterStatus) -> SafeToStopReport {
        let byID = Dictionary(cluster.servers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let leaderCommit = cluster.leader.flatMap { byID[$0]?.commitIndex } ?? cluster.servers.filter(\.reachable).map(\.commitIndex).max() ?? 0
        func caughtUp(_ status: ServerStatus?) -> Bool {
            guard let status, status.reachable, status.leader != nil else { return false }
            // Subtracting from the commit: the indexes are the members' own reports.
            return status.appliedIndex >= leaderCommit - min(leaderCommit, safeToStopLag)
        }
        let quorum = voters.count / 2 + 1
        let others = voters.filter { $0 != target && caughtUp(byID[$0]) }.count
        let ready = caughtUp(byID[target])
        let safe = cluster.leader != nil && others >= quorum
        let readiness = ready ? "it is ready (caught up with leader \(cluster.leader.map { "\($0)" } ?? "-"))" : "it is not ready itself (unreachable, without a leader, or behind)"
        let explanation: String
        if safe {
            explanation = "safe to stop \(target): \(others) of the other voters are reachable and caught up, a quorum is \(quorum) of \(voters.count); \(readiness)"
        } else if cluster.leader == nil {
            explanation = "NOT safe to stop \(target): the cluster has no agreed leader now; \(readiness)"
        } else {
            explanation = "NOT safe to stop \(target): only \(others) other voter\(others == 1 ? " is" : "s are") reachable and caught up, a quorum needs \(quorum) of \(voters.count); \(readiness)"
        }
        return SafeToStopReport(server: target, safe: safe, serverReady: ready, voters: voters.count, quorum: quorum, othersCaughtUp: others, explanation: explanation)
    }
}
