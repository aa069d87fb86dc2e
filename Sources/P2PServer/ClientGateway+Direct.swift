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

    /// Tells `peer` (through a server it is attached to) how to reach `client`, and returns to
    /// `client` how to reach `peer`; `nil` if `peer` is unknown or attached nowhere.
    ///
    /// A client names its own candidates (`tcp`, `udp`), but the peer is told to probe only those
    /// the servers can vouch for: addresses the client reported on its own interfaces when it
    /// registered (any port on those hosts, since its UDP port may differ from its TCP port) and
    /// the UDP mapping a server observed. A client cannot make another probe an address it chose.
    func introduce(_ client: NodeID, to peer: NodeID, tcp: [String], udp: [String], _ replica: ReplicatedMailboxes) -> Introduction? {
        guard peer != client, let record = try? replica.mailboxes.client(peer),
              let own = try? replica.mailboxes.client(client)
        else { return nil }
        let observed = mappings.mapping(of: client)
        let (tcp, udp) = Self.vouchedCandidates(tcp: tcp, udp: udp, reported: own.lanAddresses, observed: observed)
        var generator = SystemRandomNumberGenerator()
        let token = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let conversation = UInt32.random(in: 1...UInt32.max, using: &generator)
        let toPeer = Introduction(peer: client, tcp: tcp, udp: udp, token: token, conversation: conversation, initiator: false)
        if let session = sessions.sessions(of: peer).first {
            Task { await session.push(.introduction(toPeer)) }
        } else {
            guard let server = record.attachedServers.first(where: { $0 != id && mesh.links.canReach($0) }) else { return nil }
            try? mesh.send(.introduceClient(client: peer, toPeer), to: server)
        }
        context.metrics.introduced()
        let peerUDP = mappings.candidates(record.lanAddresses, of: peer)
        logger.debug("introduced clients", metadata: ["p2p.client": "\(client)", "p2p.peer": "\(peer)", "p2p.udp": "\(peerUDP)"])
        return Introduction(peer: peer, tcp: record.lanAddresses, udp: peerUDP, token: token, conversation: conversation, initiator: true)
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
