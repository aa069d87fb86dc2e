import Foundation
import Logging
import Mailbox
import P2PCore

/// How a server without Raft state starts: it forms a new cluster with its configured peers or
/// joins theirs, and registers its address (which, for a new server, is its request to join).
extension RaftDriver {
    /// Waits for the configured peers, then returns the voters of a new cluster to form with
    /// them, or `nil` to join the running cluster one of them belongs to.
    ///
    /// A new cluster forms only once every configured peer has answered, none of them belongs to
    /// a cluster yet, and all were configured with as many peers as this server (as etcd's
    /// initial cluster, the first members must agree on who they are).
    func decideHowToStart() async throws -> Set<NodeID>? {
        var lastReport = ContinuousClock.now
        let peers = configuration.peers
        while true {
            let hellos = mesh.configuredPeerHellos()
            if let founder = hellos.first(where: { $0.1.formedVoters.contains(id) }) {
                // A first member formed the cluster a moment ago, with this server as a voter.
                let voters = Set(founder.1.formedVoters)
                logger.info("forming a new cluster", metadata: ["raft.voters": "\(voters.count)", "p2p.with": "\(founder.0)"])
                return voters
            }
            if let member = hellos.first(where: { $0.1.isMember }) {
                logger.info("joining the running cluster", metadata: ["p2p.through": "\(member.0)"])
                return nil
            }
            if hellos.count == peers.count {
                let disagreeing = hellos.filter { $0.1.configuredPeers != peers.count }
                if disagreeing.isEmpty {
                    let voters = Set(hellos.map(\.0)).union([id])
                    logger.info("forming a new cluster", metadata: ["raft.voters": "\(voters.count)"])
                    return voters
                }
                if ContinuousClock.now - lastReport > .seconds(5) {
                    lastReport = .now
                    let detail = disagreeing.map { "\($0.1.address) has \($0.1.configuredPeers)" }.joined(separator: ", ")
                    logger.warning("cannot form a cluster: this server has \(peers.count) peers but \(detail); every first member must list all the others")
                }
            } else if ContinuousClock.now - lastReport > .seconds(5) {
                lastReport = .now
                logger.notice("waiting for peers before forming or joining a cluster", metadata: ["p2p.answered": "\(hellos.count)/\(peers.count)"])
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Records this server's address in the replicated state (through the leader). For a new
    /// server this is the request to join: the leader then adds it as a learner and promotes it
    /// to voter once it has caught up (``ReplicatedMailboxes/reconcileMembership()``).
    func registerAddress() async {
        if FileManager.default.fileExists(atPath: context.removedMarkerPath) {
            logger.warning("this server was removed from the cluster: it does not rejoin by itself; add it back with `mailbox-admin server add \(mesh.advertisedAddress)`")
            return
        }
        let address = mesh.advertisedAddress
        var backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(2))
        while !Task.isCancelled {
            if registeredServers()[id] == address { return }
            // Removed meanwhile (the marker is written as the removal applies here).
            if FileManager.default.fileExists(atPath: context.removedMarkerPath) { return }
            do {
                if try await commit(.registerServer(id: id, address: address), budget: .seconds(5)) == .serverRetired {
                    // Removed while it was down: it learns it only now.
                    writeRemovedMarker()
                    logger.warning("this server was removed from the cluster: it does not rejoin by itself; add it back with `mailbox-admin server add \(address)`")
                    return
                }
                logger.info("registered this server's address with the cluster", metadata: ["p2p.advertise": "\(address)"])
                return
            } catch {
                logger.debug("registering this server's address failed, retrying: \(error)")
            }
            do { try await Task.sleep(for: backoff.next()) } catch { return }
        }
    }
}
