import AdminProtocol
import ClientProtocol
import LMDB
import Logging
import Mailbox
import P2PClient
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
    let identity: NodeIdentity
    /// The cluster's signing key (derived from the server secret), with which this server proves
    /// to clients that it is a server of the cluster.
    let clusterKey: ClusterKey
    private let environment: Environment
    let logger: Logger
    let peers = PeerLinks()
    let sessions = ClientSessions()
    let forwards = PendingReplies<ForwardedReply.Result>()
    let adminReplies = PendingReplies<AdminResponse>()
    let readIndexes = PendingReplies<LogIndex?>()
    /// Each client's (and linked server's) public UDP mapping as this server last observed it.
    let udpObservations = Mutex<[NodeID: String]>([:])
    /// Accepted links still waiting for their first frame, in total and per remote host.
    let awaitingFirstFrame = AdmissionCount(total: 256, perHost: 16)
    /// The UDP side of the listener, once bound.
    let udpBox = Mutex<UDPEndpoint?>(nil)
    /// When this server last introduced each pair of servers to each other.
    let serverIntroductions = Mutex<[String: ContinuousClock.Instant]>([:])
    /// Messages (and their payload bytes) this server accepted from clients into mailboxes.
    let relayCounters = Mutex<(messages: UInt64, bytes: UInt64)>((0, 0))
    private let replicaBox = Mutex<ReplicatedMailboxes?>(nil)
    let incarnation = UInt64.random(in: 1...UInt64.max)
    /// Whether the data directory held Raft state at start-up (this server belongs to a cluster).
    let hasPersistedState: Bool
    /// The address other servers dial this one at (known once the listener is bound).
    let advertisedAddressBox = Mutex("")
    /// Peer addresses being dialled, and where new ones are handed to the dialling task group.
    let dialing = Mutex<Set<String>>([])
    let dialRequests = AsyncStream<String>.makeStream()
    /// The server's own messaging endpoint (see `P2PServer+Endpoint.swift`).
    let endpointBox = Mutex<P2PClient?>(nil)
    let endpointWaiters = PendingReplies<P2PClient>()
    /// Yields once the listener is bound (finishes without yielding if binding failed).
    let listening = AsyncStream<Void>.makeStream()
    /// The task running ``run()`` when the server was started with ``start(configuration:logger:)``.
    private let runner = Mutex<Task<Void, any Error>?>(nil)
    /// Whether the last applied membership included this server.
    let wasMember = Mutex(false)
    /// The members (voters and learners) of the last applied membership: the only servers whose
    /// Raft messages, forwarded commands and read-index requests are taken.
    let members = Mutex<Set<NodeID>>([])
    /// The voters of the cluster this server formed in this run (told to peers in hellos).
    let formedVoters = Mutex<Set<NodeID>>([])
    /// The id behind each configured peer address, once dialled.
    let resolvedPeers = Mutex<[String: NodeID]>([:])

    /// Opens (or creates) the server's identity and storage in `configuration.dataDirectory`.
    ///
    /// Throws a ``Secret/Problem`` for a missing or weak secret (unless
    /// ``ServerConfiguration/insecureDevelopmentMode``), an `IdentityError` for a damaged or
    /// insecure identity, and ``StartError/legacyIdentity(_:)`` for a data directory whose id is
    /// not derived from its key.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "p2pcore.server")) throws {
        var configuration = configuration
        try Self.checkSecrets(&configuration, logger)
        self.configuration = configuration
        clusterKey = ClusterKey(serverSecret: configuration.serverSecret)
        identity = try IdentityStore(directory: configuration.dataDirectory).loadOrCreate()
        guard identity.isSelfCertifying else { throw StartError.legacyIdentity(configuration.dataDirectory) }
        id = identity.id
        let lmdb = configuration.dataDirectory + "/lmdb"
        try IdentityStore.checkPermissions(directory: lmdb, secret: [lmdb + "/data.mdb", lmdb + "/lock.mdb"])
        environment = try Environment(path: lmdb)
        hasPersistedState = try RaftLogStore(environment: environment).loadPersistedState() != nil
        var logger = logger
        logger[metadataKey: "p2p.node"] = "\(identity.id)"
        self.logger = logger
    }

    /// Starts a server outside a `ServiceGroup`: returns once it listens (throws if it cannot
    /// bind or open its data directory). Stop it with ``shutdown()``.
    public static func start(configuration: ServerConfiguration, logger: Logger = Logger(label: "p2pcore.server")) async throws -> P2PServer {
        let server = try P2PServer(configuration: configuration, logger: logger)
        let runner = Task { try await server.run() }
        server.runner.withLock { $0 = runner }
        for await _ in server.listening.stream { return server }
        try await runner.value
        throw CancellationError()
    }

    /// Stops a server started with ``start(configuration:logger:)`` gracefully: closes its
    /// links, fails proposals still waiting, syncs and closes its storage. Returns once stopped.
    public func shutdown() async {
        guard let runner = runner.withLock({ $0 }) else { return }
        runner.cancel()
        _ = try? await runner.value
    }

    /// The replicated mailboxes, once the cluster has formed.
    public var replica: ReplicatedMailboxes? { replicaBox.withLock { $0 } }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        let linkConfiguration = serverLinkConfiguration()
        let logger = self.logger
        let listener: LinkListener
        let adminSocket: AdminSocket?
        do {
            listener = try await LinkListener.bind(
                host: configuration.listenHost, port: configuration.listenPort, configuration: linkConfiguration,
                vet: Self.vet,
                onFailure: { error in logger.notice("rejected a connection: \(error)") }
            )
        } catch {
            listening.continuation.finish()
            throw error
        }
        do {
            adminSocket = try await AdminSocket.bind(path: adminSocketPath) { [weak self] request in
                guard let self else { return .failed(AdminFailure(.unavailable, "the server is stopping")) }
                self.logger.info("admin request (local socket)", metadata: ["p2p.admin": "\(request)"])
                return await self.answerAdmin(request, forwarded: false)
            }
        } catch {
            logger.warning("no local admin socket at \(adminSocketPath): \(error)")
            adminSocket = nil
        }
        // The UDP side of the same port: clients learn their public mapping (and keep it open) here.
        let udp: UDPEndpoint?
        do {
            udp = try await UDPEndpoint.bind(host: configuration.listenHost, port: listener.port, configuration: linkConfiguration)
        } catch {
            logger.warning("no UDP endpoint on port \(listener.port): \(error) (clients behind NAT cannot be hole-punched through this server)")
            udp = nil
        }
        listening.continuation.yield()
        listening.continuation.finish()
        let advertised = configuration.advertiseAddress ?? Self.defaultAdvertisedAddress(configuration.listenHost, listener.port, logger)
        advertisedAddressBox.withLock { $0 = advertised }
        logger.info("server started", metadata: [
            "p2p.listen": "\(configuration.listenHost):\(listener.port)",
            "p2p.advertise": "\(advertised)",
            "p2p.cluster-key": "\(clusterKey.fingerprint)",
            "p2p.data": "\(configuration.dataDirectory)",
            "p2p.peers": "\(configuration.peers.joined(separator: ","))",
            "p2p.admin": "\(adminSocketPath)\(configuration.adminSecret == nil ? "" : " and remote (admin secret)")",
        ])
        await withDiscardingTaskGroup { group in
            group.addTask {
                await withDiscardingTaskGroup { links in
                    for await link in listener.links {
                        links.addTask { await self.accept(link) }
                    }
                }
            }
            group.addTask {
                await withDiscardingTaskGroup { dials in
                    for await address in self.dialRequests.stream {
                        dials.addTask { await self.dial(address, linkConfiguration) }
                    }
                }
            }
            for address in configuration.peers { requestDial(address) }
            if let udp {
                udpBox.withLock { $0 = udp }
                group.addTask { await self.recordObservations(udp) }
                group.addTask { await self.seekPeers(udp) }
            }
            group.addTask {
                do {
                    try await self.runRaft(listenerPort: listener.port)
                } catch is CancellationError {
                } catch {
                    logger.error("raft stopped: \(error)")
                }
            }
            // Returns on graceful shutdown (SIGTERM/SIGINT through the ServiceGroup) or cancellation.
            try? await gracefulShutdown()
            await stopEndpoint()
            listener.close()
            adminSocket?.close()
            udp?.close()
            dialRequests.continuation.finish()
            peers.closeAll()
            sessions.closeAll()
            group.cancelAll()
            await replica?.stop()
        }
        try environment.sync()
        environment.close()
        logger.info("server stopped")
    }

    // MARK: Raft

    private func runRaft(listenerPort: Int) async throws {
        // A server without Raft state forms a new cluster with its peers or joins theirs.
        let voters: Set<NodeID>? = hasPersistedState ? nil : try await decideHowToStart()
        formedVoters.withLock { $0 = voters ?? [] }
        var raftConfiguration = RaftConfiguration(id: id, randomSeed: UInt64.random(in: 0...UInt64.max))
        raftConfiguration.electionTicks = 10
        let peers = self.peers
        let logger = self.logger
        let onLeaderChange = configuration.onLeaderChange
        let replica = try ReplicatedMailboxes(
            configuration: raftConfiguration, environment: environment, bootstrapVoters: voters,
            limits: configuration.mailboxLimits, logger: logger,
            send: { message in try? peers.send(to: message.to, type: ServerFrameType.raft, message.encoded()) },
            onLeaderChange: { leader, term in
                logger.info("leader changed", metadata: ["raft.leader": "\(leader.map { "\($0)" } ?? "none")", "raft.term": "\(term)"])
                onLeaderChange(leader)
            },
            onMembership: { [weak self] membership in self?.membershipApplied(membership) },
            onApplied: { [weak self] changes in self?.applied(changes) }
        )
        replicaBox.withLock { $0 = replica }
        try await replica.start()
        let restoredMembership = await replica.membership
        wasMember.withLock { $0 = restoredMembership.all.contains(id) }
        members.withLock { $0 = restoredMembership.all }
        await broadcastHello()
        dialRegisteredServers()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.registerAddress() }
            group.addTask { await self.startEndpoint(port: listenerPort) }
            var ticks = 0
            while !Task.isCancelled {
                try await Task.sleep(for: configuration.tickInterval)
                try await replica.tick()
                ticks += 1
                if ticks % 10 == 0 {
                    for session in sessions.all { await session.rewindIfStale(patience: configuration.redeliveryPatience) }
                    await replica.reconcileMembership()
                }
            }
        }
    }

    private static func defaultAdvertisedAddress(_ host: String, _ port: Int, _ logger: Logger) -> String {
        guard HostPort.isWildcard(host) else { return HostPort(host: host, port: port).description }
        logger.warning("listening on every interface: other servers will dial 127.0.0.1; set --advertise to this server's reachable address")
        return HostPort(host: "127.0.0.1", port: port).description
    }
}
