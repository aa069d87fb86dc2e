import AdminProtocol
import P2PCore

/// What `/status` returns (and the status page shows): the cluster as this server sees it.
public struct MonitorStatus: Codable, Equatable, Sendable {
    /// How two clients' messages travel.
    public struct Pair: Codable, Equatable, Sendable {
        public var a: NodeID
        public var b: NodeID
        /// `direct` (a client reported a direct tunnel to the other) or `relay` (messages went
        /// through a server's mailbox and no direct tunnel is reported).
        public var path: String
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
    /// Relay counters summed over the reachable members.
    public var relayedMessages: UInt64
    public var relayedBytes: UInt64
    public var generatedAtMillis: UInt64

    /// The client pairs and their paths: direct where either client reports a direct tunnel to
    /// the other, relay where one sent through the relay and neither reports one.
    static func pairs(of clients: [ClientSummary]) -> [Pair] {
        var paths: [Key: String] = [:]
        for client in clients {
            for peer in client.directPeers where peer != client.id { paths[Key(client.id, peer)] = "direct" }
        }
        for client in clients {
            for peer in client.relayedPeers ?? [] where peer != client.id && paths[Key(client.id, peer)] == nil {
                paths[Key(client.id, peer)] = "relay"
            }
        }
        return paths.map { Pair(a: $0.key.a, b: $0.key.b, path: $0.value) }.sorted { ($0.a, $0.b) < ($1.a, $1.b) }
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
        if let own = try? await admin.clientSummaries(replica.mailboxes) { lists.append(own) }
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
        return MonitorStatus(
            server: id, readiness: await readiness(), leader: cluster.leader, healthy: cluster.healthy, problems: cluster.problems,
            servers: cluster.servers, clients: clients, pairs: MonitorStatus.pairs(of: clients),
            relayedMessages: reachable.reduce(0) { $0 + $1.relayedMessages }, relayedBytes: reachable.reduce(0) { $0 + $1.relayedBytes },
            generatedAtMillis: ClientGateway.nowMillis()
        )
    }
}
