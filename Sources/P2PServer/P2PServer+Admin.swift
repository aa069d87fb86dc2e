import AdminProtocol
import Crypto
import Logging
import Mailbox
import P2PCore
import Synchronization
import Raft
import Transport
import WireCodec

/// The admin API behind `mailbox-admin`: any server answers; leader-only changes are passed to
/// the leader over the server links, and `status` asks every member for its own.
extension P2PServer {
    /// Serves an admin link (its peer proved the admin secret in the handshake): one
    /// ``AdminResponse`` per ``AdminRequest``, in order.
    func serveAdmin(_ link: Link, first: Frame, _ frames: inout LinkFrameIterator) async {
        defer { link.close() }
        var frame: Frame? = first
        do {
            while let current = frame {
                guard current.type == AdminProtocol.requestFrame else { return }
                let response: AdminResponse
                if let request = try? AdminProtocol.decode(AdminRequest.self, from: current.bytes) {
                    logger.info("admin request", metadata: ["p2p.admin": "\(request)", "p2p.peer": "\(link.peer.remoteAddress ?? "?")"])
                    response = await answerAdmin(request, forwarded: false)
                } else {
                    response = .failed(AdminFailure(.invalid, "malformed admin request"))
                }
                try link.send(type: AdminProtocol.responseFrame, AdminProtocol.encode(response))
                frame = try await frames.next()
            }
        } catch {
            logger.debug("admin link closed: \(error)")
        }
    }

    /// Answers a request another server passed on (see ``askServer(_:_:timeout:)``).
    func answerPeerAdmin(_ bytes: [UInt8], on link: PeerChannel) async {
        var reader = ByteReader(bytes)
        guard let request = try? reader.readUInt64("admin.request"),
              let body = try? AdminProtocol.decode(AdminRequest.self, from: Array(bytes.dropFirst(8)))
        else { return }
        let response = await answerAdmin(body, forwarded: true)
        var writer = ByteWriter()
        writer.write(request)
        guard let encoded = try? AdminProtocol.encode(response) else { return }
        for byte in encoded { writer.write(byte) }
        try? link.send(type: ServerFrameType.adminReply, writer.bytes)
    }

    /// Resolves a peer's answer to one of our requests.
    func receivedPeerAdminReply(_ bytes: [UInt8], from peer: NodeID) {
        var reader = ByteReader(bytes)
        guard let request = try? reader.readUInt64("admin.reply"),
              let response = try? AdminProtocol.decode(AdminResponse.self, from: Array(bytes.dropFirst(8)))
        else { return }
        adminReplies.resolve(request, with: response, from: peer)
    }

    /// Asks server `peer` over the server link.
    func askServer(_ peer: NodeID, _ request: AdminRequest, timeout: Duration) async throws -> AdminResponse {
        guard peers.canReach(peer) else { throw AdminFailure(.unavailable, "no link to server \(peer)") }
        let number = adminReplies.nextRequest()
        var writer = ByteWriter()
        writer.write(number)
        for byte in try AdminProtocol.encode(request) { writer.write(byte) }
        return try await adminReplies.wait(for: number, timeout: timeout, origin: peer) {
            try peers.send(to: peer, type: ServerFrameType.adminRequest, writer.bytes)
        }
    }

    func answerAdmin(_ request: AdminRequest, forwarded: Bool) async -> AdminResponse {
        guard let replica else { return .failed(AdminFailure(.unavailable, "this server has not formed or joined a cluster yet")) }
        do {
            switch request {
            case .serverStatus:
                return .serverStatus(await ownStatus(replica))
            case .status:
                return .status(await clusterStatus(replica))
            case .clients:
                return .clients(try await clientSummaries(replica.mailboxes))
            case .mailbox(let client, let peek):
                return .mailbox(try mailboxReport(replica.mailboxes, client, peek: peek))
            case .purge(let client):
                _ = try requireClient(replica.mailboxes, client)
                guard case .purged(let count) = try await commit(.purge(recipient: client), budget: .seconds(10)) else {
                    return .failed(AdminFailure(.unavailable, "the purge was not applied"))
                }
                return .done(detail: "purged \(count) message\(count == 1 ? "" : "s") from \(client)'s mailbox")
            case .delete(let client, let message):
                _ = try requireClient(replica.mailboxes, client)
                guard try await commit(.delete(recipient: client, id: message), budget: .seconds(10)) == .done else {
                    throw AdminFailure(.notFound, "no message \(message) in \(client)'s mailbox")
                }
                return .done(detail: "deleted \(message) from \(client)'s mailbox")
            case .addServer(let address):
                return try await addServer(address, replica)
            case .removeServer, .transferLeadership:
                return try await atLeader(request, replica, forwarded: forwarded)
            case .digest:
                let digest = try replica.mailboxes.digest()
                return .digest(appliedIndex: digest.index, sha256: digest.digest)
            case .snapshot:
                let index = try await replica.compact()
                return .done(detail: "snapshot taken on \(id): the Raft log now starts after index \(index)")
            }
        } catch let failure as AdminFailure {
            return .failed(failure)
        } catch {
            return .failed(AdminFailure(.unavailable, "\(error)"))
        }
    }

    // MARK: Reading

    private func ownStatus(_ replica: ReplicatedMailboxes) async -> ServerStatus {
        let membership = await replica.membership
        let role = await replica.role
        let isVoter = membership.voters.contains(id)
        let relayed = relayCounters.withLock { $0 }
        var status = ServerStatus(
            id: id, address: advertisedAddress,
            role: role == .follower && !isVoter ? "learner" : role.rawValue, reachable: true,
            leader: await replica.leader, term: await replica.term,
            commitIndex: await replica.commitIndex, appliedIndex: await replica.appliedIndex, voter: isVoter,
            relayedMessages: relayed.messages, relayedBytes: relayed.bytes
        )
        status.links = peers.status(of: membership.all.sorted(), me: id)
        return status
    }

    private func clusterStatus(_ replica: ReplicatedMailboxes) async -> ClusterStatus {
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

    private func clientSummaries(_ mailboxes: MailboxStore) async throws -> [ClientSummary] {
        var summaries: [ClientSummary] = []
        let observed = udpObservations.withLock { $0 }
        for record in try Self.clientRecords(mailboxes) {
            let stats = try mailboxes.stats(for: record.id)
            var direct: Set<NodeID> = []
            for session in sessions.sessions(of: record.id) { direct.formUnion(await session.directPeers) }
            summaries.append(ClientSummary(
                id: record.id, online: record.isOnline, attachedServers: record.attachedServers,
                wanAddresses: record.wanAddresses, lanAddresses: record.lanAddresses,
                listenAddress: record.listenAddress, listenPort: record.listenPort, lastSeenMillis: record.lastSeenMillis,
                mailboxMessages: stats.messages, mailboxBytes: stats.bytes, oldestMessageMillis: stats.oldestEnqueuedAtMillis,
                udpAddress: observed[record.id], directPeers: direct.sorted()
            ))
        }
        return summaries
    }

    private func mailboxReport(_ mailboxes: MailboxStore, _ client: NodeID, peek: Int) throws -> MailboxReport {
        _ = try requireClient(mailboxes, client)
        let stats = try mailboxes.stats(for: client)
        let peeked = try mailboxes.messages(for: client, limit: max(0, min(peek, 10_000)))
            .filter { !$0.message.isSkip }
            .map { MailboxReport.Message(id: $0.message.id, size: $0.message.payload.count, enqueuedAtMillis: $0.message.enqueuedAtMillis, payload: $0.message.payload) }
        return MailboxReport(client: client, messages: stats.messages, bytes: stats.bytes, oldestMessageMillis: stats.oldestEnqueuedAtMillis, peek: peeked)
    }

    private func requireClient(_ mailboxes: MailboxStore, _ client: NodeID) throws -> ClientRecord {
        guard let record = try mailboxes.client(client) else { throw AdminFailure(.notFound, "no client \(client) is known to the cluster") }
        return record
    }

    // MARK: Changing membership and leadership

    private func addServer(_ address: String, _ replica: ReplicatedMailboxes) async throws -> AdminResponse {
        guard let target = HostPort(address) else { throw AdminFailure(.invalid, "expected host:port, got '\(address)'") }
        let link: Link
        do {
            // Only a server that holds the server secret answers a server-role dial.
            link = try await LinkDialer.connect(host: target.host, port: target.port, role: .server, configuration: serverLinkConfiguration())
        } catch {
            throw AdminFailure(.unavailable, "cannot reach a server at \(address): \(error)")
        }
        let server = link.peer.id
        link.close()
        guard link.peer.role == .server, server.isDerived(from: link.peer.publicKey) else {
            throw AdminFailure(.invalid, "the node at \(address) is not a p2pcore server")
        }
        if await replica.membership.voters.contains(server) {
            return .done(detail: "server \(server) at \(address) is already a voter")
        }
        _ = try await commit(.registerServer(id: server, address: address), budget: .seconds(10))
        // The leader adds it as a learner, then promotes it once it caught up.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if await replica.membership.voters.contains(server) {
                return .done(detail: "server \(server) at \(address) joined as a voter")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw AdminFailure(.unavailable, "server \(server) was registered but is not a voter after 30 s (is it running and caught up?)")
    }

    /// Runs a leader-only request here if this server leads, else passes it to the leader.
    private func atLeader(_ request: AdminRequest, _ replica: ReplicatedMailboxes, forwarded: Bool) async throws -> AdminResponse {
        guard let leader = await replica.leader else { throw AdminFailure(.unavailable, "the cluster has no leader right now") }
        if leader != id {
            guard !forwarded else { throw AdminFailure(.unavailable, "leadership moved while the request was passed on; retry") }
            return try await askServer(leader, request, timeout: .seconds(30))
        }
        switch request {
        case .removeServer(let server):
            return try await removeServer(server, replica)
        case .transferLeadership(let target):
            return try await transferLeadership(to: target, replica)
        default:
            throw AdminFailure(.invalid, "not a leader-only request")
        }
    }

    private func removeServer(_ server: NodeID, _ replica: ReplicatedMailboxes) async throws -> AdminResponse {
        let membership = await replica.membership
        guard membership.all.contains(server) else { throw AdminFailure(.notFound, "server \(server) is not a member of the cluster") }
        guard membership.voters != [server] else { throw AdminFailure(.invalid, "cannot remove the last voter") }
        // Unregister first, so that the leader's reconciliation does not add it back.
        _ = try await commit(.forgetServer(server), budget: .seconds(10))
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard await replica.membership.all.contains(server) else {
                return .done(detail: "server \(server) was removed from the cluster")
            }
            do {
                try await replica.changeMembership(.remove(server))
            } catch RaftError.membershipChangePending {
            } catch RaftError.notLeader {
                throw AdminFailure(.unavailable, "leadership moved during the removal; retry")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw AdminFailure(.unavailable, "server \(server) is still a member after 10 s")
    }

    private func transferLeadership(to requested: NodeID?, _ replica: ReplicatedMailboxes) async throws -> AdminResponse {
        let membership = await replica.membership
        let target: NodeID
        if let requested {
            guard membership.voters.contains(requested), requested != id else {
                throw AdminFailure(requested == id ? .invalid : .notFound, requested == id ? "\(requested) already leads" : "\(requested) is not a voter")
            }
            target = requested
        } else {
            let matches = await replica.matchIndexes
            guard let best = membership.voters.filter({ $0 != id }).max(by: { (matches[$0] ?? 0, $0) < (matches[$1] ?? 0, $1) }) else {
                throw AdminFailure(.invalid, "there is no other voter to hand leadership to")
            }
            target = best
        }
        do {
            try await replica.transferLeadership(to: target)
        } catch {
            throw AdminFailure(.unavailable, "transfer to \(target) refused: \(error)")
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if await replica.leader == target { return .done(detail: "leadership moved from \(id) to \(target)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw AdminFailure(.unavailable, "leadership did not move to \(target) within 10 s")
    }
}
