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

    /// One page of client summaries (at most ``AdminProtocol/AdminRequest/maximumPageSize``),
    /// ordered by id, and where the next page starts (`nil`: the last page).
    func clientSummaries(_ mailboxes: MailboxStore, after: NodeID?, limit: Int) async throws -> (summaries: [ClientSummary], next: NodeID?) {
        var summaries: [ClientSummary] = []
        let observed = gateway.mappings
        let page = try P2PServer.clientRecords(mailboxes, after: after, limit: min(max(limit, 1), AdminRequest.maximumPageSize))
        for record in page.records {
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
                udpAddress: observed.mapping(of: record.id), directPeers: direct.sorted()
            )
            summary.relayedPeers = relayed.sorted()
            summaries.append(summary)
        }
        return (summaries, page.more ? page.records.last?.id : nil)
    }

    /// `client`'s mailbox with up to `peek` messages (at most ``AdminProtocol/AdminRequest/maximumPageSize``)
    /// after arrival `after`, and where the next page starts when more follow.
    func mailboxReport(_ mailboxes: MailboxStore, _ client: NodeID, peek: Int, after: UInt64? = nil) throws -> MailboxReport {
        _ = try requireClient(mailboxes, client)
        let stats = try mailboxes.stats(for: client)
        let limit = max(0, min(peek, AdminRequest.maximumPageSize))
        guard limit > 0 else {
            return MailboxReport(client: client, messages: stats.messages, bytes: stats.bytes, oldestMessageMillis: stats.oldestEnqueuedAtMillis, peek: [])
        }
        // One more than asked: whether more follow.
        let read = try mailboxes.messages(for: client, after: after ?? 0, limit: limit + 1)
        let shown = read.prefix(limit)
        let peeked = shown.filter { !$0.message.isSkip }.map {
            MailboxReport.Message(
                id: $0.message.id, size: $0.message.payload.count, enqueuedAtMillis: $0.message.enqueuedAtMillis,
                expiresAtMillis: $0.message.expiresAtMillis, payload: $0.message.payload, arrival: $0.arrival
            )
        }
        return MailboxReport(
            client: client, messages: stats.messages, bytes: stats.bytes, oldestMessageMillis: stats.oldestEnqueuedAtMillis,
            peek: peeked, next: read.count > limit ? shown.last?.arrival : nil
        )
    }

    func requireClient(_ mailboxes: MailboxStore, _ client: NodeID) throws -> ClientRecord {
        guard let record = try mailboxes.client(client) else { throw AdminFailure(.notFound, "no client \(client) is known to the cluster") }
        return record
    }
}
