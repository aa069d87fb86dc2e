import ClientProtocol
import Delivery
import Logging
import MessageModel
import P2PCore
import Transport
import WireCodec

extension ClientEngine {
    /// Keeps a link to the server at `address` open until cancelled (see ``ServerDialer``).
    nonisolated func maintain(_ address: String) async {
        await dialer.maintain(address, for: self)
    }

    /// The server at `address` welcomed the client on `link`.
    func serverUp(_ address: String, _ link: Link, server: NodeID, leader: NodeID?) {
        guard !stopped else { return link.close() }
        plan.connected(address)
        planChanged()
        if let replaced = connections.connected(address, link, server: server, leader: leader) { feed(.serverDisconnected(replaced)) }
        attached()
        if let direct { Task { self.reportDirectPeers(await direct.peers, to: [link]) } }
        feed(.serverConnected(server))
    }

    /// The server on `link` announced what it takes beyond the base protocol.
    func serverAnnounced(_ features: LinkFeatures, on link: Link) {
        connections.announced(features, on: link)
    }

    /// The link to `address` ended (or could not be made).
    func serverDown(_ address: String, _ link: Link?, reason: String) {
        planAddressDown(address)
        guard let server = connections.disconnected(address, link, reason: reason) else { return }
        feed(.serverDisconnected(server))
    }

    var serverStatus: (leader: NodeID?, connected: [NodeID], unconnected: [String]) { connections.status }

    /// The peers this client reaches directly changed: the core's path choice and the servers learn it.
    func directPeersChanged(_ peers: [NodeID]) {
        feed(.directPeers(Set(peers)))
        reportDirectPeers(peers)
    }

    /// Tells servers which peers this client reaches directly (all connected ones when `links` is nil).
    func reportDirectPeers(_ peers: [NodeID], to links: [Link]? = nil) {
        let bytes = ClientRequest.directPeers(Array(peers.prefix(ClientRecord.Limits.maximumDirectPeers))).encoded()
        for link in links ?? connections.links { try? link.send(type: ClientProtocol.requestFrame, bytes) }
    }

    /// A frame on a direct link: a message for this client, or the acknowledgement of one it sent.
    func directFrame(_ link: Link, _ frame: Frame) {
        var reader = ByteReader(frame.bytes)
        switch frame.type {
        case FrameType.directMessage.rawValue:
            guard let message = try? MailMessage.decode(from: &reader), message.id.sender == link.peer.id, !message.isSkip else {
                logger.notice("closing the direct link to \(link.peer.id): malformed or misattributed message")
                return link.close()
            }
            feed(.directMessage(message, link: directLinks.id(for: link)))
        case FrameType.directAcknowledge.rawValue:
            guard let sender = try? reader.readNodeID("ack.sender"), let sequence = try? reader.readUInt64("ack.sequence"), sender == me else { return }
            feed(.directAcknowledgement(from: link.peer.id, sequence: sequence))
        default:
            return
        }
    }
}
