import ClientProtocol
import LMDB
import Logging
import Mailbox
import P2PCore
import Raft
import RaftStorage
import ServiceLifecycle
import Synchronization
import Transport
import WireCodec

/// A p2pcore server: one member of the Raft cluster that keeps the clients' mailboxes.
///
/// Run it as a `Service` in a `ServiceGroup`; it stops gracefully on the group's shutdown.
/// Servers link to each other in a full mesh over authenticated, encrypted TCP links. A new
/// cluster forms once every listed peer has been reached (all of them then agree on the voters,
/// as with etcd's initial cluster); a server with Raft state on disk rejoins at once.
public final class P2PServer: Service, Sendable {
    /// This server's permanent id (kept in its data directory across restarts).
    public let id: NodeID
    public let configuration: ServerConfiguration
    private let identity: NodeIdentity
    private let environment: Environment
    let logger: Logger
    let peers = PeerLinks()
    let sessions = ClientSessions()
    let forwards = PendingReplies<ForwardedReply.Result>()
    private let replicaBox = Mutex<ReplicatedMailboxes?>(nil)
    private let incarnation = UInt64.random(in: 1...UInt64.max)

    /// Opens (or creates) the server's identity and storage in `configuration.dataDirectory`.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "p2pcore.server")) throws {
        self.configuration = configuration
        identity = try IdentityStore(directory: configuration.dataDirectory).loadOrCreate()
        id = identity.id
        environment = try Environment(path: configuration.dataDirectory + "/lmdb")
        var logger = logger
        logger[metadataKey: "p2p.node"] = "\(identity.id)"
        self.logger = logger
    }

    /// The replicated mailboxes, once the cluster has formed.
    public var replica: ReplicatedMailboxes? { replicaBox.withLock { $0 } }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        let linkConfiguration = LinkConfiguration(identity: identity, secret: configuration.secret, incarnation: incarnation)
        let logger = self.logger
        let listener = try await LinkListener.bind(
            host: configuration.listenHost, port: configuration.listenPort, configuration: linkConfiguration,
            onFailure: { error in logger.notice("rejected a connection: \(error)") }
        )
        logger.info("server started", metadata: [
            "p2p.listen": "\(configuration.listenHost):\(listener.port)",
            "p2p.data": "\(configuration.dataDirectory)",
            "p2p.peers": "\(configuration.peers.joined(separator: ","))",
        ])
        await withDiscardingTaskGroup { group in
            group.addTask {
                await withDiscardingTaskGroup { links in
                    for await link in listener.links {
                        links.addTask { await self.accept(link) }
                    }
                }
            }
            for address in configuration.peers {
                group.addTask { await self.dial(address, linkConfiguration) }
            }
            group.addTask {
                do {
                    try await self.runRaft()
                } catch is CancellationError {
                } catch {
                    logger.error("raft stopped: \(error)")
                }
            }
            // Returns on graceful shutdown (SIGTERM/SIGINT through the ServiceGroup) or cancellation.
            try? await gracefulShutdown()
            listener.close()
            peers.closeAll()
            sessions.closeAll()
            group.cancelAll()
            await replica?.stop()
        }
        try environment.sync()
        environment.close()
        logger.info("server stopped")
    }

    // MARK: Links

    /// Keeps a link to the server at `address` open, redialling with backoff.
    private func dial(_ address: String, _ linkConfiguration: LinkConfiguration) async {
        guard let target = HostPort(address) else {
            logger.error("ignoring malformed peer address '\(address)'")
            return
        }
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                let link = try await LinkDialer.connect(host: target.host, port: target.port, configuration: linkConfiguration)
                backoff = .milliseconds(100)
                try link.send(type: ServerFrameType.serverHello, [])
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
    private func accept(_ link: Link) async {
        var frames = link.inbound.makeAsyncIterator()
        do {
            guard let first = try await frames.next() else { return link.close() }
            if first.type == ServerFrameType.serverHello {
                await serveServer(link, &frames)
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
    private func serveServer(_ link: Link, _ frames: inout AsyncThrowingStream<Frame, any Error>.Iterator) async {
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
                    try await replica?.receive(message)
                case ServerFrameType.forward:
                    let forwarded = try ForwardedCommand(decoding: frame.bytes)
                    Task { await self.proposeForwarded(forwarded, replyingOn: link) }
                case ServerFrameType.forwardReply:
                    let reply = try ForwardedReply(decoding: frame.bytes)
                    forwards.resolve(reply.request, with: reply.result)
                default:
                    continue
                }
            }
        } catch {
            logger.debug("link to \(link.peer.id) closed: \(error)")
        }
    }

    // MARK: Raft

    private func runRaft() async throws {
        let hasState = try RaftLogStore(environment: environment).loadPersistedState() != nil
        var voters: Set<NodeID>? = nil
        if !hasState {
            // A new cluster forms only once every listed peer is known, so all agree on the voters.
            while peers.connectedIDs.count < configuration.peers.count {
                try await Task.sleep(for: .milliseconds(50))
            }
            voters = peers.connectedIDs.union([id])
            logger.info("forming a new cluster", metadata: ["raft.voters": "\(voters?.count ?? 0)"])
        }
        var raftConfiguration = RaftConfiguration(id: id, randomSeed: UInt64.random(in: 0...UInt64.max))
        raftConfiguration.electionTicks = 10
        let peers = self.peers
        let logger = self.logger
        let onLeaderChange = configuration.onLeaderChange
        let replica = try ReplicatedMailboxes(
            configuration: raftConfiguration, environment: environment, bootstrapVoters: voters,
            limits: configuration.mailboxLimits, logger: logger,
            send: { message in try? peers.link(to: message.to)?.send(type: ServerFrameType.raft, message.encoded()) },
            onLeaderChange: { leader, term in
                logger.info("leader changed", metadata: ["raft.leader": "\(leader.map { "\($0)" } ?? "none")", "raft.term": "\(term)"])
                onLeaderChange(leader)
            },
            onApplied: { [weak self] changes in self?.applied(changes) }
        )
        replicaBox.withLock { $0 = replica }
        try await replica.start()
        var ticks = 0
        while !Task.isCancelled {
            try await Task.sleep(for: configuration.tickInterval)
            try await replica.tick()
            ticks += 1
            if ticks % 10 == 0 {
                for session in sessions.all { await session.rewindIfStale(patience: configuration.redeliveryPatience) }
            }
        }
    }
}
