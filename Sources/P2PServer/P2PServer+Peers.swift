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
        return ServerHello(
            address: advertisedAddress, isMember: hasPersistedState || knowsCluster, configuredPeers: configuration.peers.count,
            formedVoters: formedVoters.withLock { $0 }.sorted()
        )
    }

    /// Tells every connected peer what changed about this server (it formed or joined a cluster).
    func broadcastHello() async {
        let bytes = await hello().encoded()
        for link in peers.all { try? link.send(type: ServerFrameType.serverHello, bytes) }
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
                await serveServer(link, &frames)
            } catch {
                logger.debug("cannot reach peer \(address): \(error)")
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
        do {
            guard let first = try await frames.next() else { return link.close() }
            switch link.peer.role {
            case .server:
                guard first.type == ServerFrameType.serverHello else {
                    throw TransportError.protocolViolation("a server link must start with a server hello")
                }
                peers.record(try ServerHello(decoding: first.bytes), from: link.peer.id)
                try link.send(type: ServerFrameType.serverHello, await hello().encoded())
                await serveServer(link, &frames)
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

    /// The address in a `registerServer` command (empty for any other command).
    static func registeredAddress(_ command: MailboxCommand) -> String {
        if case .registerServer(_, let address) = command { return address }
        return ""
    }

    /// Reads a server link until it closes.
    private func serveServer(_ link: Link, _ frames: inout LinkFrameIterator) async {
        peers.add(link)
        defer {
            peers.remove(link)
            link.close()
        }
        do {
            while let frame = try await frames.next() {
                let peer = link.peer.id
                // A proven server that is not a member may only say hello and ask to join.
                let member = isMember(peer)
                switch frame.type {
                case ServerFrameType.raft:
                    let message = try RaftMessage(decoding: frame.bytes)
                    // Only a member, speaking for itself, to this server.
                    guard member, message.from == peer, message.to == id else { continue }
                    replica?.receive(message)
                case ServerFrameType.forward:
                    let forwarded = try ForwardedCommand(decoding: frame.bytes)
                    guard member || forwarded.command == .registerServer(id: peer, address: Self.registeredAddress(forwarded.command)) else {
                        logger.notice("ignoring a command forwarded by non-member \(peer)")
                        continue
                    }
                    Task { await self.proposeForwarded(forwarded, replyingOn: link) }
                case ServerFrameType.forwardReply:
                    let reply = try ForwardedReply(decoding: frame.bytes)
                    forwards.resolve(reply.request, with: reply.result, from: ObjectIdentifier(link))
                case ServerFrameType.adminRequest:
                    guard member else { continue }
                    let bytes = frame.bytes
                    Task { await self.answerPeerAdmin(bytes, on: link) }
                case ServerFrameType.adminReply:
                    receivedPeerAdminReply(frame.bytes, on: link)
                case ServerFrameType.readIndex:
                    guard member else { continue }
                    let bytes = frame.bytes
                    Task { await self.answerReadIndex(bytes, on: link) }
                case ServerFrameType.readIndexReply:
                    receivedReadIndex(frame.bytes, on: link)
                case ServerFrameType.introduce:
                    guard member else { continue }
                    var reader = ByteReader(frame.bytes)
                    let client = try reader.readNodeID("introduce.client")
                    let introduction = try Introduction.decode(from: &reader)
                    try reader.expectEnd()
                    for session in sessions.sessions(of: client).prefix(1) { await session.push(.introduction(introduction)) }
                case ServerFrameType.serverHello:
                    peers.record(try ServerHello(decoding: frame.bytes), from: peer)
                default:
                    throw TransportError.protocolViolation("unknown server frame type \(frame.type)")
                }
            }
        } catch {
            logger.debug("link to \(link.peer.id) closed: \(error)")
        }
    }
}
