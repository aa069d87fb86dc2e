import AdminProtocol
import ClientProtocol
import Mailbox
import P2PCore

extension P2PServer {
    /// Why clients `a` and `b` are or are not linked directly: each side's NAT as the servers
    /// infer it from the mappings every member observed, the path the clients last reported
    /// (client-reported: untrusted diagnostics), and a one-line verdict. Gathers from every member.
    ///
    /// Throws ``QueryError/clusterNotFormed`` before the cluster formed, and an `AdminFailure`
    /// (`notFound`) for a client the cluster does not know.
    public func pathDiagnosis(_ a: NodeID, _ b: NodeID) async throws -> PairPathDiagnosis {
        guard let replica else { throw QueryError.clusterNotFormed }
        return try await admin.pathDiagnosis(a, b, replica)
    }

    /// Every client's inferred NAT (``NATBehaviour``, with the mappings each server observed) and
    /// the newest client-reported path of every pair. With `gather` every member is asked for its
    /// observations and reports (up to 2 s); without, only this server's own are used.
    public func pathOverview(gather: Bool = true) async throws -> PathOverview {
        guard let replica else { throw QueryError.clusterNotFormed }
        return try await admin.pathOverview(gather: gather, replica)
    }
}

extension ClientGateway {
    /// Keeps what `client` reported about its paths, for pairs with clients the registry knows.
    func recordPathReports(_ reports: [PathReport], from client: NodeID, _ replica: ReplicatedMailboxes) {
        let known = reports.prefix(PathReport.maximumPeers).filter { report in
            (try? replica.mailboxes.client(report.peer)) != nil
        }
        pathReports.record(Array(known), from: client, nowMillis: Self.nowMillis())
    }
}
