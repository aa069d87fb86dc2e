import AdminProtocol
import P2PCore

/// What `/status` returns (and the status page shows): the cluster as this server sees it.
public struct MonitorStatus: Codable, Equatable, Sendable {
    /// How two clients' messages travel.
    public struct Pair: Codable, Equatable, Sendable {
        public var a: NodeID
        public var b: NodeID
        /// `direct` (a client reports a direct link or tunnel to the other) or `relay` (through
        /// the servers' mailboxes, no direct path reported).
        public var path: String
        /// `lan`, `udp` or `relay` when the clients' path reports say which; `nil` otherwise.
        public var kind: String?
        /// Round-trip time of the direct path, when a client measured it.
        public var rttMillis: Double?
        /// `client-reported` (the clients' path reports) or `server-observed` (the peers a client
        /// declared direct to its servers, and the recipients it sent to through the relay).
        public var source: String
    }

    /// The server that answered.
    public var server: NodeID
    public var readiness: Readiness
    public var leader: NodeID?
    public var healthy: Bool
    public var problems: [String]
    /// Every member, as `mailbox-admin status` shows it.
    public var servers: [ServerStatus]
    /// Every client, merged over the reachable members: direct and relayed peers are what the
    /// client's links to any of them reported.
    public var clients: [ClientSummary]
    public var pairs: [Pair]
    /// The servers' path diagnostics: each client's inferred NAT and the pairs' reports (`nil`
    /// when they could not be gathered).
    public var paths: PathOverview?
    /// Relay counters summed over the reachable members.
    public var relayedMessages: UInt64
    public var relayedBytes: UInt64
    public var generatedAtMillis: UInt64

    /// The client pairs and their paths. The clients' own path reports decide first (direct when
    /// either side reports a LAN link or UDP tunnel); pairs they do not cover come from what the
    /// servers saw: direct where a client declared the other a direct peer, relay where one sent
    /// to the other through the relay.
    static func pairs(of clients: [ClientSummary], reports: [PairPathReport]) -> [Pair] {
        var pairs: [Key: Pair] = [:]
        for report in reports where report.reporter != report.peer {
            let key = Key(report.reporter, report.peer)
            let direct = report.path != .relay
            if let known = pairs[key], known.path == "direct", !direct { continue }
            pairs[key] = Pair(
                a: key.a, b: key.b, path: direct ? "direct" : "relay", kind: report.path.rawValue,
                rttMillis: direct ? report.rttMillis : nil, source: "client-reported"
            )
        }
        for client in clients {
            for peer in client.directPeers where peer != client.id {
                let key = Key(client.id, peer)
                if pairs[key]?.source == "client-reported" { continue }
                pairs[key] = Pair(a: key.a, b: key.b, path: "direct", source: "server-observed")
            }
        }
        for client in clients {
            for peer in client.relayedPeers ?? [] where peer != client.id && pairs[Key(client.id, peer)] == nil {
                let key = Key(client.id, peer)
                pairs[key] = Pair(a: key.a, b: key.b, path: "relay", source: "server-observed")
            }
        }
        return pairs.values.sorted { ($0.a, $0.b) < ($1.a, $1.b) }
    }

    /// The same summaries from several servers, one per client: sets of peers united.
    static func merge(_ lists: [[ClientSummary]]) -> [ClientSummary] {
        var merged: [NodeID: ClientSummary] = [:]
        for list in lists {
            for summary in list {
                guard var known = merged[summary.id] else {
                    merged[summary.id] = summary
                    continue
                }
                known.directPeers = Array(Set(known.directPeers).union(summary.directPeers)).sorted()
                known.relayedPeers = Array(Set(known.relayedPeers ?? []).union(summary.relayedPeers ?? [])).sorted()
                known.udpAddress = known.udpAddress ?? summary.udpAddress
                merged[summary.id] = known
            }
        }
        return merged.values.sorted { $0.id < $1.id }
    }

    /// An unordered pair of clients.
    private struct Key: Hashable {
        let a: NodeID
        let b: NodeID
        init(_ x: NodeID, _ y: NodeID) { (a, b) = x < y ? (x, y) : (y, x) }
    }
}

extension P2PServer {
    /// The cluster's status as `/status` shows it; `nil` before the cluster formed here.
    public func monitorStatus() async -> MonitorStatus? {
        guard let replica else { return nil }
        let cluster = await admin.clusterStatus(replica)
        var lists: [[ClientSummary]] = []
        // The first page of each member's (the status page shows at most that many clients).
        if let own = try? await admin.clientSummaries(replica.mailboxes, after: nil, limit: AdminRequest.maximumPageSize) { lists.append(own.summaries) }
        let others = cluster.servers.filter { $0.reachable && $0.id != id }.map(\.id)
        await withTaskGroup(of: [ClientSummary]?.self) { group in
            for member in others {
                group.addTask {
                    guard case .clients(let list)? = try? await self.admin.askServer(member, .clients, timeout: .seconds(2)) else { return nil }
                    return list
                }
            }
            for await list in group { if let list { lists.append(list) } }
        }
        let clients = MonitorStatus.merge(lists)
        let reachable = cluster.servers.filter(\.reachable)
        let paths = try? await admin.pathOverview(gather: true, replica)
        return MonitorStatus(
            server: id, readiness: await readiness(), leader: cluster.leader, healthy: cluster.healthy, problems: cluster.problems,
            servers: cluster.servers, clients: clients, pairs: MonitorStatus.pairs(of: clients, reports: paths?.pairs ?? []), paths: paths,
            // Saturating: the counters are the members' own reports.
            relayedMessages: reachable.reduce(0) { $0.saturatingAdding($1.relayedMessages) },
            relayedBytes: reachable.reduce(0) { $0.saturatingAdding($1.relayedBytes) },
            generatedAtMillis: ClientGateway.nowMillis()
        )
    }
}
