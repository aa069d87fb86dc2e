import Logging
import Mailbox
import Raft
import Synchronization
import P2PCore
import Transport
import WireCodec

/// Making, serving and reading server links, and who may say what on them (docs/SECURITY.md).
extension PeerMesh {
    /// Keeps a link to the server at `address` open, redialling with backoff.
    func dial(_ address: String, _ linkConfiguration: LinkConfiguration) async {
        guard let target = HostPort(address) else {
            logger.error("ignoring malformed peer address '\(address)'")
            return
        }
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        while !Task.isCancelled {
            do {
                let link = try await LinkDialer.connect(host: target.host, port: target.port, role: .server, configuration: linkConfiguration)
                backoff.reset()
                guard link.peer.role == .server, ServerContext.vet(link.peer) else {
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
                try link.send(.hello(await hello()))
                await serve(link, kind: .tcpOut)
            } catch {
                logger.debug("cannot reach peer \(address): \(error)")
                let reason = "dialling \(address): \(error)"
                if let peer = resolvedPeers.withLock({ $0[address] }) ?? links.peer(at: address) { links.recordFailure(reason, for: peer) }
            }
            do {
                try await Task.sleep(for: backoff.next())
            } catch {
                return
            }
        }
    }

    /// Serves a server link whose peer dialled (or, for a tunnel, opened) it: its first frame
    /// must be its hello, answered with ours; anything else closes the link.
    func answer(_ link: Link, first: Frame, kind: PeerLinks.Kind) async {
        do {
            guard first.type == FrameType.serverPeer.rawValue, case .hello(let theirs) = try PeerMessage(decoding: first.bytes) else {
                throw TransportError.protocolViolation("a server link must start with a server hello")
            }
            noteHello(theirs, from: link.peer.id)
            try link.send(.hello(await hello()))
        } catch {
            logger.notice("closing a link from server \(link.peer.id): \(error)", metadata: ["p2p.peer": "\(link.peer.remoteAddress ?? "?")"])
            return link.close()
        }
        await serve(link, kind: kind)
    }

    /// Reads a server link until it closes.
    func serve(_ link: Link, kind: PeerLinks.Kind) async {
        if links.add(link, kind: kind) { Task { await self.broadcastHello() } }
        defer {
            if links.remove(link) { Task { await self.broadcastHello() } }
            link.close()
        }
        let peer = link.peer.id
        link.inbound.intercept { [weak self, weak link] frame in
            guard let self, let link else { return false }
            return self.takeAtOnce(frame, on: link)
        }
        var frames = link.inbound.makeAsyncIterator()
        do {
            while let frame = try await frames.next() {
                guard frame.type == FrameType.serverPeer.rawValue else {
                    throw TransportError.protocolViolation("frame type \(frame.type) is not allowed on a server link")
                }
                switch try PeerMessage(decoding: frame.bytes) {
                case .relay(let target, let message):
                    // Passed on to a member we have a link to; the origin is this link's peer.
                    guard isMember(peer), isMember(target), let next = links.link(to: target) else { continue }
                    try? next.send(.relayed(from: peer, message))
                case .relayed(let origin, let message):
                    guard isMember(peer), origin != id else { continue }
                    try await handle(message, from: PeerChannel(relayedFrom: origin, via: link))
                case .connectServer(let request):
                    guard isMember(peer) else { continue }
                    introduceServers(request, asker: peer)
                case .introduceServer(let introduction):
                    guard isMember(peer) else { continue }
                    punchServer(introduction)
                case let message:
                    try await handle(message, from: PeerChannel(link: link))
                }
            }
        } catch {
            logger.debug("link to \(peer) closed: \(error)")
        }
    }

    /// Handles what needs no waiting (Raft traffic, requests, replies, receipts) on the event
    /// loop that read it, sparing each such message the hop to the link's reading task (it is
    /// on the path of every relayed message); the rest, and malformed frames, are left to
    /// ``serve(_:kind:)``.
    private func takeAtOnce(_ frame: Frame, on link: Link) -> Bool {
        guard frame.type == FrameType.serverPeer.rawValue, PeerMessage.isHandledAtOnce(frame.bytes),
              let message = try? PeerMessage(decoding: frame.bytes) else { return false }
        return handleAtOnce(message, from: PeerChannel(link: link))
    }

    /// Handles a message from server `channel.peer`, arrived on a link to it or through a relay.
    /// A proven server that is not a member may only say hello, answer, and ask to register itself.
    func handle(_ message: PeerMessage, from channel: PeerChannel) async throws {
        if handleAtOnce(message, from: channel) { return }
        let peer = channel.peer
        let member = isMember(peer)
        switch message {
        case .hello(let hello):
            noteHello(hello, from: peer)
        case .introduceClient(let client, let introduction):
            guard member else { return }
            await router?.introduce(introduction, toClient: client)
        case .snapshot(let transfer):
            // Raft traffic: only between members, as `.raft` (the replica checks the rest).
            guard member else { return }
            router?.received(transfer, from: peer)
        case .raft, .request, .reply, .receipts:
            return
        case .relay, .relayed, .connectServer, .introduceServer:
            // Never inside a relay (the decoder refuses it); handled by `serve` otherwise.
            return
        }
    }

    /// Handles the messages whose handling never waits (see ``PeerMessage/isHandledAtOnce(_:)``);
    /// false for any other.
    func handleAtOnce(_ message: PeerMessage, from channel: PeerChannel) -> Bool {
        let peer = channel.peer
        switch message {
        case .raft(let raft):
            // Only a member, speaking for itself, to this server.
            if isMember(peer), raft.from == peer, raft.to == id { router?.received(raft) }
        case .request(let number, let request):
            guard isMember(peer) || Self.isOwnRegistration(request, by: peer) else {
                logger.notice("ignoring a request from non-member \(peer)")
                return true
            }
            Task {
                guard let reply = await self.router?.answer(request, from: peer) else { return }
                try? channel.send(.reply(number, reply))
            }
        case .reply(let number, let reply):
            replies.resolve(number, with: reply, from: peer)
        case .receipts(let receipts):
            if isMember(peer) { router?.deliverReceipts(receipts) }
        default:
            return false
        }
        return true
    }

    /// Whether `request` asks to register `peer` itself: what a server may ask before it is a member.
    static func isOwnRegistration(_ request: PeerRequest, by peer: NodeID) -> Bool {
        guard case .commit(.registerServer(let server, _)) = request else { return false }
        return server == peer
    }
}

/// Where a message from another server came from, and how to answer it: on the link it came on,
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

    func send(_ message: PeerMessage) throws {
        try link.send(relayed ? .relay(to: peer, message) : message)
    }
}
