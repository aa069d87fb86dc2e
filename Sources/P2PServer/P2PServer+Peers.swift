import AdminProtocol
import ClientProtocol
import Logging
import Mailbox
import Synchronization
import P2PCore
import Raft
import Transport
import WireCodec

extension P2PServer {
    /// The address other servers dial this one at.
    var advertisedAddress: String { advertisedAddressBox.withLock { $0 } }

    /// Starts dialling `address` (once: repeated requests for one address are ignored).
    func requestDial(_ address: String) {
        guard address != advertisedAddress, dialing.withLock({ $0.insert(address).inserted }) else { return }
        dialRequests.continuation.yield(address)
    }

    /// Dials every server registered in the replicated state (so that servers that joined later
    /// are part of the full mesh too).
    func dialRegisteredServers() {
        guard let servers = try? replica?.mailboxes.servers() else { return }
        for (server, address) in servers where server != id { requestDial(address) }
    }

    /// What this server tells its peers about itself.
    func hello() async -> ServerHello {
        let knowsCluster = await replica?.membership.all.isEmpty == false
        let neighbours = peers.connectedIDs.sorted().map { peer in
            ServerHello.Neighbour(id: peer, address: peers.hello(of: peer)?.address ?? "")
        }
        return ServerHello(
            address: advertisedAddress, isMember: hasPersistedState || knowsCluster, configuredPeers: configuration.peers.count,
            formedVoters: formedVoters.withLock { $0 }.sorted(), neighbours: neighbours
        )
    }

    /// Tells every connected peer what changed about this server (it formed or joined a cluster,
    /// or its links changed), and the members it reaches only through others as well.
    func broadcastHello() async {
        let bytes = await hello().encoded()
        let linked = peers.connectedIDs
        for link in peers.all { try? link.send(type: ServerFrameType.serverHello, bytes) }
        let others = members.withLock { $0 }.union(resolvedPeers.withLock { $0.values })
        for other in others where other != id && !linked.contains(other) {
            try? peers.send(to: other, type: ServerFrameType.serverHello, bytes)
        }
    }

    /// Records a peer's hello, and the id behind the address it is reached at (a configured
    /// peer counts as answered whether we dialled it, it dialled us, or a neighbour knows it).
    func noteHello(_ hello: ServerHello, from peer: NodeID) {
        peers.record(hello, from: peer)
        let configured = Set(configuration.peers)
        let learned = resolvedPeers.withLock { resolved -> Bool in
            var learned = false
            if configured.contains(hello.address), resolved[hello.address] != peer {
                resolved[hello.address] = peer
            }
            for neighbour in hello.neighbours where neighbour.id != id && configured.contains(neighbour.address) && resolved[neighbour.address] == nil {
                resolved[neighbour.address] = neighbour.id
                learned = true
            }
            return learned
        }
        // A configured peer we cannot reach ourselves learns about us through the relay.
        if learned { Task { await self.broadcastHello() } }
    }

    /// Keeps a link to the server at `address` open, redialling with backoff.
    func dial(_ address: String, _ linkConfiguration: LinkConfiguration) async {
        guard let target = HostPort(address) else {
            logger.error("ignoring malformed peer address '\(address)'")
            return
        }
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                let link = try await LinkDialer.connect(host: target.host, port: target.port, role: .server, configuration: linkConfiguration)
                backoff = .milliseconds(100)
                guard link.peer.role == .server, Self.vet(link.peer) else {
                    logger.warning("peer address \(address) is not a p2pcore server with an id derived from its key; not linking")
                    link.close()
                    throw TransportError.peerRefused(link.peer.id)
                }
                guard link.peer.id != id else {
                    logger.warning("peer address \(address) is this server itself; not dialling it")
                    link.close()
                    return
                }
                resolvedPeers.withLock { $0[address] = link.peer.id }
                try link.send(type: ServerFrameType.serverHello, await hello().encoded())
                var frames = link.inbound.makeAsyncIterator()
                await serveServer(link, kind: .tcpOut, &frames)
            } catch {
                logger.debug("cannot reach peer \(address): \(error)")
                let reason = "dialling \(address): \(error)"
                if let peer = resolvedPeers.withLock({ $0[address] }) ?? peers.peer(at: address) { peers.recordFailure(reason, for: peer) }
            }
            do {
                try await Task.sleep(for: backoff)
            } catch {
                return
            }
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    /// Serves an accepted link by the role its peer proved in the handshake. A link whose first
    /// frame does not fit its role is closed.
    func accept(_ link: Link) async {
        var frames = link.inbound.makeAsyncIterator()
        // A peer that proved a secret but says nothing holds a link (and memory) for nothing:
        // few may wait for their first frame at once, and none for long.
        let host = link.peer.remoteAddress.flatMap { HostPort($0)?.host } ?? "?"
        guard awaitingFirstFrame.admit(host) else {
            logger.notice("closing a link from \(host): too many links wait for their first frame")
            return link.close()
        }
        let silence = Task {
            try await Task.sleep(for: Self.firstFrameTimeout)
            link.close()
        }
        let firstFrame: Result<Frame?, any Error>
        do { firstFrame = .success(try await frames.next()) } catch { firstFrame = .failure(error) }
        silence.cancel()
        awaitingFirstFrame.release(host)
        do {
            guard let first = try firstFrame.get() else { return link.close() }
            switch link.peer.role {
            case .server:
                try await answerServer(link, first: first, kind: .tcpIn, &frames)
            case .admin:
                await serveAdmin(link, first: first, &frames)
            case .client:
                guard first.type == ClientProtocol.requestFrame, case .hello(let hello) = try ClientRequest(decoding: first.bytes) else {
                    throw TransportError.protocolViolation("a client link must start with a client hello")
                }
                await serveClient(link, hello, &frames)
            }
        } catch {
            logger.notice("closing a link from \(link.peer.id) (\(link.peer.role)): \(error)", metadata: ["p2p.peer": "\(link.peer.remoteAddress ?? "?")"])
            link.close()
        }
    }

    /// How long an accepted link may stay silent before its first frame.
    static let firstFrameTimeout: Duration = .seconds(5)

    /// The address in a `registerServer` command (empty for any other command).
    static func registeredAddress(_ command: MailboxCommand) -> String {
        if case .registerServer(_, let address) = command { return address }
        return ""
    }

    /// Serves a server link whose peer dialled (or, for a tunnel, opened) it: its first frame is
    /// its hello, answered with ours.
    func answerServer(_ link: Link, first: Frame, kind: PeerLinks.Kind, _ frames: inout LinkFrameIterator) async throws {
        guard first.type == ServerFrameType.serverHello else {
            throw TransportError.protocolViolation("a server link must start with a server hello")
        }
        noteHello(try ServerHello(decoding: first.bytes), from: link.peer.id)
        try link.send(type: ServerFrameType.serverHello, await hello().encoded())
        await serveServer(link, kind: kind, &frames)
    }

    /// Reads a server link until it closes.
    func serveServer(_ link: Link, kind: PeerLinks.Kind, _ frames: inout LinkFrameIterator) async {
        if peers.add(link, kind: kind) { Task { await self.broadcastHello() } }
        defer {
            if peers.remove(link) { Task { await self.broadcastHello() } }
            link.close()
        }
        let channel = PeerChannel(link: link)
        do {
            while let frame = try await frames.next() {
                switch frame.type {
                case ServerFrameType.relay:
                    // Pass it on to a server we have a link to; the origin is this link's peer.
                    guard isMember(link.peer.id) else { continue }
                    let relayed = try RelayedFrame(decoding: frame.bytes)
                    guard ServerFrameType.isRelayable(relayed.type), let target = peers.link(to: relayed.peer), isMember(relayed.peer) else { continue }
                    try? target.send(type: ServerFrameType.relayed, RelayedFrame(peer: link.peer.id, type: relayed.type, bytes: relayed.bytes).encoded())
                case ServerFrameType.relayed:
                    guard isMember(link.peer.id) else { continue }
                    let relayed = try RelayedFrame(decoding: frame.bytes)
                    guard ServerFrameType.isRelayable(relayed.type), relayed.peer != id else { continue }
                    try await handleServerFrame(type: relayed.type, bytes: relayed.bytes, from: PeerChannel(relayedFrom: relayed.peer, via: link))
                case ServerFrameType.connectServer:
                    guard isMember(link.peer.id) else { continue }
                    introduceServers(try ServerConnectRequest(decoding: frame.bytes), asker: link.peer.id)
                case ServerFrameType.introduceServer:
                    guard isMember(link.peer.id) else { continue }
                    var reader = ByteReader(frame.bytes)
                    let introduction = try Introduction.decode(from: &reader)
                    try reader.expectEnd()
                    punchServer(introduction)
                default:
                    try await handleServerFrame(type: frame.type, bytes: frame.bytes, from: channel)
                }
            }
        } catch {
            logger.debug("link to \(link.peer.id) closed: \(error)")
        }
    }

    /// Handles one frame from server `channel.peer`, arrived on a link to it or through a relay.
    private func handleServerFrame(type: UInt8, bytes: [UInt8], from channel: PeerChannel) async throws {
        let peer = channel.peer
        // A proven server that is not a member may only say hello and ask to join.
        let member = isMember(peer)
        switch type {
        case ServerFrameType.raft:
            let message = try RaftMessage(decoding: bytes)
            // Only a member, speaking for itself, to this server.
            guard member, message.from == peer, message.to == id else { return }
            replica?.receive(message)
        case ServerFrameType.forward:
            let forwarded = try ForwardedCommand(decoding: bytes)
            guard member || forwarded.command == .registerServer(id: peer, address: Self.registeredAddress(forwarded.command)) else {
                logger.notice("ignoring a command forwarded by non-member \(peer)")
                return
            }
            Task { await self.proposeForwarded(forwarded, replyingOn: channel) }
        case ServerFrameType.forwardReply:
            let reply = try ForwardedReply(decoding: bytes)
            forwards.resolve(reply.request, with: reply.result, from: peer)
        case ServerFrameType.adminRequest:
            guard member else { return }
            Task { await self.answerPeerAdmin(bytes, on: channel) }
        case ServerFrameType.adminReply:
            receivedPeerAdminReply(bytes, from: peer)
        case ServerFrameType.readIndex:
            guard member else { return }
            Task { await self.answerReadIndex(bytes, on: channel) }
        case ServerFrameType.readIndexReply:
            receivedReadIndex(bytes, from: peer)
        case ServerFrameType.introduce:
            guard member else { return }
            var reader = ByteReader(bytes)
            let client = try reader.readNodeID("introduce.client")
            let introduction = try Introduction.decode(from: &reader)
            try reader.expectEnd()
            for session in sessions.sessions(of: client).prefix(1) { await session.push(.introduction(introduction)) }
        case ServerFrameType.serverHello:
            noteHello(try ServerHello(decoding: bytes), from: peer)
        default:
            throw TransportError.protocolViolation("unknown server frame type \(type)")
        }
    }
}

/// Where a frame from another server came from, and how to answer it: on the link it came on,
/// or back through the relay that carried it.
struct PeerChannel: Sendable {
    let peer: NodeID
    private let link: Link
    private let relayed: Bool

    init(link: Link) {
        peer = link.peer.id
        self.link = link
        relayed = false
    }

    init(relayedFrom peer: NodeID, via link: Link) {
        self.peer = peer
        self.link = link
        relayed = true
    }

    func send(type: UInt8, _ bytes: [UInt8]) throws {
        guard relayed else { return try link.send(type: type, bytes) }
        try link.send(type: ServerFrameType.relay, RelayedFrame(peer: peer, type: type, bytes: bytes).encoded())
    }
}
