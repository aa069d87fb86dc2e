import AdminProtocol
import ClientProtocol
import Logging
import Mailbox
import MessageModel
import P2PCore
import Transport

/// The servers' part in direct tunnels: observing clients' public UDP mappings (as STUN does)
/// and introducing two clients to each other so that both punch at once.
extension ClientGateway {
    /// Records the mapping of every authenticated observation whose key matches the registry, or
    /// the key a linked server proved.
    func recordObservations(_ udp: UDPEndpoint) async {
        for await observation in udp.observations {
            let serverKey = mesh.links.link(to: observation.client)?.peer.publicKey
            let clientKey = serverKey == nil ? (try? raft.replica?.mailboxes.client(observation.client))?.publicKey : nil
            guard (serverKey ?? clientKey) == observation.publicKey else { continue }
            mappings.record(observation.address, of: observation.client)
        }
    }

    /// Logs the observe requests the UDP side refused (a few lines a minute at most, see
    /// ``UDPObserveRejection``): clients from before timestamped requests, clocks that are off, replays.
    func logObserveRejections(_ udp: UDPEndpoint) async {
        for await rejection in udp.observeRejections {
            logger.notice("UDP observe requests not answered: \(rejection.reason.rawValue)", metadata: [
                "p2p.client": "\(rejection.client)", "p2p.address": "\(rejection.address)",
                "p2p.skewMilliseconds": "\(rejection.skewMilliseconds)", "p2p.count": "\(rejection.count)",
            ])
        }
    }

    /// Tells `peer` (through a server it is attached to) how to reach `client`, and returns to
    /// `client` how to reach `peer`; `nil` if `peer` is unknown or attached nowhere.
    ///
    /// A client names its own candidates (`tcp`, `udp`), but the peer is told to probe only those
    /// the servers can vouch for: addresses the client reported on its own interfaces when it
    /// registered (any port on those hosts, since its UDP port may differ from its TCP port) and
    /// the UDP mapping a server observed. A client cannot make another probe an address it chose.
    ///
    /// Clients observe their mapping only at the servers they are attached to: when this server
    /// has no recent observation of `peer` (it is attached elsewhere), one of `peer`'s servers is
    /// asked for its own (``remoteMapping(of:_:)``).
    func introduce(_ client: NodeID, to peer: NodeID, tcp: [String], udp: [String], _ replica: ReplicatedMailboxes) async -> Introduction? {
        guard peer != client, let record = try? replica.mailboxes.client(peer),
              let own = try? replica.mailboxes.client(client)
        else { return nil }
        let localSession = sessions.sessions(of: peer).first
        let relayServer = localSession == nil ? record.attachedServers.first(where: { $0 != id && mesh.links.canReach($0) }) : nil
        guard localSession != nil || relayServer != nil else { return nil }
        var peerUDP = mappings.candidates(record.lanAddresses, of: peer)
        if mappings.mapping(of: peer, observedWithin: Self.freshMapping) == nil, let remote = await remoteMapping(of: peer, record), !peerUDP.contains(remote) {
            peerUDP.append(remote)
        }
        let observed = mappings.mapping(of: client)
        let (tcp, udp) = Self.vouchedCandidates(tcp: tcp, udp: udp, reported: own.lanAddresses, observed: observed)
        var generator = SystemRandomNumberGenerator()
        let token = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let conversation = UInt32.random(in: 1...UInt32.max, using: &generator)
        let toPeer = Introduction(peer: client, tcp: tcp, udp: udp, token: token, conversation: conversation, initiator: false)
        if let localSession {
            Task { await localSession.push(.introduction(toPeer)) }
        } else if let relayServer {
            try? mesh.send(.introduceClient(client: peer, toPeer), to: relayServer)
        }
        context.metrics.introduced()
        logger.debug("introduced clients", metadata: ["p2p.client": "\(client)", "p2p.peer": "\(peer)", "p2p.udp": "\(peerUDP)"])
        return Introduction(peer: peer, tcp: record.lanAddresses, udp: peerUDP, token: token, conversation: conversation, initiator: true)
    }

    /// How old this server's own observation of a peer may be to go into an introduction
    /// without asking the peer's servers (clients observe at least every 30 s).
    static let freshMapping: Duration = .seconds(45)

    /// `peer`'s UDP mapping as one of the servers it is attached to observed it (asked over the
    /// server link, briefly: an introduction waits for it), or `nil`.
    func remoteMapping(of peer: NodeID, _ record: ClientRecord) async -> String? {
        for server in record.attachedServers where server != id && mesh.links.canReach(server) {
            guard case .admin(.pathFacts(let facts))? = try? await mesh.ask(server, .admin(.pathFacts(clients: [peer])), timeout: .seconds(1)),
                  facts.server == server
            else { continue }
            if let observation = facts.mappings.first(where: { $0.client == peer && $0.ageSeconds < 120 }) { return observation.mapping }
        }
        return nil
    }

    /// The candidates of a client that the servers can vouch for (see ``introduce(_:to:tcp:udp:_:)``).
    static func vouchedCandidates(tcp: [String], udp: [String], reported: [String], observed: String?) -> (tcp: [String], udp: [String]) {
        let reportedHosts = Set(reported.compactMap { HostPort($0)?.host })
        let vouchedTCP = tcp.filter { reported.contains($0) }
        var vouchedUDP = udp.filter { candidate in
            candidate == observed || HostPort(candidate).map { reportedHosts.contains($0.host) } == true
        }
        if let observed, !vouchedUDP.contains(observed) { vouchedUDP.append(observed) }
        return (vouchedTCP, vouchedUDP)
    }
}
