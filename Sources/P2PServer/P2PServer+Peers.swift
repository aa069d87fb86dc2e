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
                let link = try await LinkDialer.connect(host: target.host, port: target.port, configuration: linkConfiguration)
                backoff = .milliseconds(100)
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

    /// Tells a server from a client by the first frame of an accepted link, and serves it.
    func accept(_ link: Link) async {
        var frames = link.inbound.makeAsyncIterator()
        do {
            guard let first = try await frames.next() else { return link.close() }
            if first.type == ServerFrameType.serverHello {
                peers.record(try ServerHello(decoding: first.bytes), from: link.peer.id)
                try link.send(type: ServerFrameType.serverHello, await hello().encoded())
                await serveServer(link, &frames)
            } else if first.type == AdminProtocol.requestFrame {
                await serveAdmin(link, first: first, &frames)
            } else if first.type == ClientProtocol.requestFrame, case .hello(let hello) = try ClientRequest(decoding: first.bytes) {
                await serveClient(link, hello, &frames)
            } else {
                logger.notice("closing a link from \(link.peer.id): it did not start with a hello")
                link.close()
            }
        } catch {
            logger.debug("link from \(link.peer.id) closed: \(error)")
            link.close()
        }
    }

    /// Reads a server link until it closes.
    private func serveServer(_ link: Link, _ frames: inout LinkInbound.AsyncIterator) async {
        peers.add(link)
        defer {
            peers.remove(link)
            link.close()
        }
        do {
            while let frame = try await frames.next() {
                switch frame.type {
                case ServerFrameType.raft:
                    let message = try RaftMessage(decoding: frame.bytes)
                    // Only the authenticated peer may speak for itself.
                    guard message.from == link.peer.id, message.to == id else { continue }
                    replica?.receive(message)
                case ServerFrameType.forward:
                    let forwarded = try ForwardedCommand(decoding: frame.bytes)
                    Task { await self.proposeForwarded(forwarded, replyingOn: link) }
                case ServerFrameType.forwardReply:
                    let reply = try ForwardedReply(decoding: frame.bytes)
                    forwards.resolve(reply.request, with: reply.result)
                case ServerFrameType.adminRequest:
                    let bytes = frame.bytes
                    Task { await self.answerPeerAdmin(bytes, on: link) }
                case ServerFrameType.adminReply:
                    receivedPeerAdminReply(frame.bytes)
                case ServerFrameType.readIndex:
                    let bytes = frame.bytes
                    Task { await self.answerReadIndex(bytes, on: link) }
                case ServerFrameType.readIndexReply:
                    receivedReadIndex(frame.bytes)
                case ServerFrameType.introduce:
                    var reader = ByteReader(frame.bytes)
                    let client = try reader.readNodeID("introduce.client")
                    let introduction = try Introduction.decode(from: &reader)
                    for session in sessions.sessions(of: client).prefix(1) { await session.push(.introduction(introduction)) }
                case ServerFrameType.serverHello:
                    peers.record(try ServerHello(decoding: frame.bytes), from: link.peer.id)
                default:
                    continue
                }
            }
        } catch {
            logger.debug("link to \(link.peer.id) closed: \(error)")
        }
    }
}
