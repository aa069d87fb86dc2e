import AdminProtocol
import Crypto
import Logging
import Mailbox
import MessageModel
import P2PCore
import Synchronization
import Raft
import Transport
import WireCodec

/// What `mailbox-admin` reads: this server's status, the cluster's, clients and mailboxes.
extension AdminService {
    func ownStatus(_ replica: ReplicatedMailboxes) async -> ServerStatus {
        let membership = await replica.membership
        let role = await replica.role
        let isVoter = membership.voters.contains(id)
        let relayed = gateway.relayCounters.withLock { $0 }
        var status = ServerStatus(
            id: id, address: mesh.advertisedAddress,
            role: role == .follower && !isVoter ? "learner" : role.rawValue, reachable: true,
            leader: await replica.leader, term: await replica.term,
            commitIndex: await replica.commitIndex, appliedIndex: await replica.appliedIndex, voter: isVoter,
            relayedMessages: relayed.messages, relayedBytes: relayed.bytes
        )
        status.links = mesh.links.status(of: membership.all.sorted(), me: id)
        return status
    }

    func clusterStatus(_ replica: ReplicatedMailboxes) async -> ClusterStatus {
        let membership = await replica.membership
        let addresses = (try? replica.mailboxes.servers()) ?? [:]
        let members = membership.all.sorted()
        var statuses: [ServerStatus] = []
        await withTaskGroup(of: ServerStatus.self) { group in
            for member in members {
                group.addTask {
                    if member == self.id { return await self.ownStatus(replica) }
                    if case .serverStatus(let status)? = try? await self.askServer(member, .serverStatus, timeout: .seconds(2)) {
                        return status
                    }
                    return ServerStatus(
                        id: member, address: addresses[member] ?? "?", role: "unreachable", reachable: false,
                        leader: nil, term: 0, commitIndex: 0, appliedIndex: 0, voter: membership.voters.contains(member)
                    )
                }
            }
            for await status in group { statuses.append(status) }
        }
        statuses.sort { $0.id < $1.id }
        var problems: [String] = []
        let reachableVoters = statuses.filter { $0.voter && $0.reachable }.count
        if reachableVoters <= membership.voters.count / 2 {
            problems.append("only \(reachableVoters) of \(membership.voters.count) voters reachable: no quorum")
        }
        for status in statuses where !status.reachable { problems.append("server \(status.id) (\(status.address)) is unreachable") }
        let leaders = Set(statuses.filter(\.reachable).map(\.leader))
        let leader = leaders.count == 1 ? leaders.first ?? nil : nil
        if leader == nil { problems.append(leaders.count > 1 ? "servers disagree on the leader" : "no leader") }
        if let leader, !membership.voters.contains(leader) { problems.append("the leader \(leader) is no longer a voter (an election follows)") }
        return ClusterStatus(servers: statuses, leader: leader, healthy: problems.isEmpty, problems: problems)
    }

    func clientSummaries(_ mailboxes: MailboxStore) async throws -> [ClientSummary] {
        var summaries: [ClientSummary] = []
        let observed = gateway.mappings.all
        for record in try P2PServer.clientRecords(mailboxes) {
            let stats = try mailboxes.stats(for: record.id)
            var direct: Set<NodeID> = []
            var relayed: Set<NodeID> = []
            for session in gateway.sessions.sessions(of: record.id) {
                direct.formUnion(await session.directPeers)
                relayed.formUnion(await session.relayedPeers)
            }
            var summary = ClientSummary(
                id: record.id, online: record.isOnline, attachedServers: record.attachedServers,
                wanAddresses: record.wanAddresses, lanAddresses: record.lanAddresses,
                listenAddress: record.listenAddress, listenPort: record.listenPort, lastSeenMillis: record.lastSeenMillis,
                mailboxMessages: stats.messages, mailboxBytes: stats.bytes, oldestMessageMillis: stats.oldestEnqueuedAtMillis,
                udpAddress: observed[record.id], directPeers: direct.sorted()
            )
            summary.relayedPeers = relayed.sorted()
            summaries.append(summary)
        }
        return summaries
    }

    func mailboxReport(_ mailboxes: MailboxStore, _ client: NodeID, peek: Int) throws -> MailboxReport {
        _ = try requireClient(mailboxes, client)
        let stats = try mailboxes.stats(for: client)
        let peeked = try mailboxes.messages(for: client, limit: max(0, min(peek, 10_000)))
            .filter { !$0.message.isSkip }
            .map {
                MailboxReport.Message(
                    id: $0.message.id, size: $0.message.payload.count, enqueuedAtMillis: $0.message.enqueuedAtMillis,
                    expiresAtMillis: $0.message.expiresAtMillis, payload: $0.message.payload
                )
            }
        return MailboxReport(client: client, messages: stats.messages, bytes: stats.bytes, oldestMessageMillis: stats.oldestEnqueuedAtMillis, peek: peeked)
    }

    func requireClient(_ mailboxes: MailboxStore, _ client: NodeID) throws -> ClientRecord {
        guard let record = try mailboxes.client(client) else { throw AdminFailure(.notFound, "no client \(client) is known to the cluster") }
        return record
    }
}
