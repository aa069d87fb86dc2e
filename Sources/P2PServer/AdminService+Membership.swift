import AdminProtocol
import Crypto
import Logging
import Mailbox
import P2PCore
import Synchronization
import Raft
import Transport
import WireCodec

/// Membership and leadership changes an operator asks for.
extension AdminService {
    func addServer(_ address: String, _ replica: ReplicatedMailboxes) async throws -> AdminResponse {
        guard let target = HostPort(address) else { throw AdminFailure(.invalid, "expected host:port, got '\(address)'") }
        let link: Link
        do {
            // Only a server that holds the server secret answers a server-role dial.
            link = try await LinkDialer.connect(host: target.host, port: target.port, role: .server, configuration: context.linkConfiguration)
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
        // Admitted, not registered: this also lifts an earlier removal's retirement.
        _ = try await raft.commit(.admitServer(id: server, address: address), budget: .seconds(10))
        // The leader adds it as a learner, then promotes it once it caught up.
        if await replica.wait(until: { $0.membership.voters.contains(server) }, timeout: .seconds(30)) {
            return .done(detail: "server \(server) at \(address) joined as a voter")
        }
        throw AdminFailure(.unavailable, "server \(server) was registered but is not a voter after 30 s (is it running and caught up?)")
    }

    /// Runs a leader-only request here if this server leads, else passes it to the leader.
    func atLeader(_ request: AdminRequest, _ replica: ReplicatedMailboxes, forwarded: Bool) async throws -> AdminResponse {
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

    func removeServer(_ server: NodeID, _ replica: ReplicatedMailboxes) async throws -> AdminResponse {
        let membership = await replica.membership
        guard membership.all.contains(server) else { throw AdminFailure(.notFound, "server \(server) is not a member of the cluster") }
        guard membership.voters != [server] else { throw AdminFailure(.invalid, "cannot remove the last voter") }
        // Retired first, so that the leader's reconciliation does not add it back, not even for
        // a registration of its own still in flight or sent after its restart.
        _ = try await raft.commit(.retireServer(server), budget: .seconds(10))
        // Proposed again after each change while another membership change is pending (the
        // leader's reconciliation may have one in flight).
        let removed = try? await withDeadline(.seconds(10), "the removal") {
            for await _ in await replica.changes() {
                guard await replica.membership.all.contains(server) else { return true }
                do {
                    try await replica.changeMembership(.remove(server))
                } catch RaftError.membershipChangePending {
                } catch RaftError.notLeader {
                    throw AdminFailure(.unavailable, "leadership moved during the removal; retry")
                }
            }
            return false
        }
        if removed == true { return .done(detail: "server \(server) was removed from the cluster") }
        if await replica.leader != id { throw AdminFailure(.unavailable, "leadership moved during the removal; retry") }
        throw AdminFailure(.unavailable, "server \(server) is still a member after 10 s")
    }

    func transferLeadership(to requested: NodeID?, _ replica: ReplicatedMailboxes) async throws -> AdminResponse {
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
        if await replica.wait(until: { $0.leader == target }, timeout: .seconds(10)) {
            return .done(detail: "leadership moved from \(id) to \(target)")
        }
        throw AdminFailure(.unavailable, "leadership did not move to \(target) within 10 s")
    }
}
