import AdminProtocol
import ClientProtocol
import Logging
import Mailbox
import P2PCore
import Raft
import ServiceLifecycle
import Synchronization
import Transport

/// A p2pcore server: one member of the Raft cluster that keeps the clients' mailboxes.
///
/// Run it as a `Service` in a `ServiceGroup`; it stops gracefully on the group's shutdown.
/// Servers link to each other in a full mesh over authenticated, encrypted TCP links. A new
/// cluster forms once every listed peer has been reached (all of them then agree on the voters,
/// as with etcd's initial cluster); a server with Raft state on disk rejoins at once.
///
/// A server is composed of services, each owning its own state, run together in one
/// `ServiceGroup` by ``run()``: the `PeerMesh` (links to other servers), the `RaftDriver`
/// (the replica and its storage), the `ClientGateway` (client links and sessions), the
/// `AdminService`, the `LinkAcceptor` (the listener) and the `ServerEndpoint` (the
/// server's own messaging endpoint). The group shuts them down in reverse order.
public final class P2PServer: Service, Sendable {
    /// This server's permanent id (kept in its data directory across restarts).
    public let id: NodeID
    public let configuration: ServerConfiguration
    let context: ServerContext
    let mesh: PeerMesh
    let raft: RaftDriver
    let gateway: ClientGateway
    let admin: AdminService
    let ownEndpoint: ServerEndpoint
    /// Yields once the listener is bound (finishes without yielding if binding failed).
    let listening = AsyncStream<Void>.makeStream()
    /// The task running ``run()`` when the server was started with ``start(configuration:logger:)``.
    private let runner = Mutex<Task<Void, any Error>?>(nil)
    /// The monitor, while the server runs with one.
    let monitor = Mutex<MonitorService?>(nil)

    /// Opens (or creates) the server's identity and storage in `configuration.dataDirectory`.
    ///
    /// Throws a `Secret.Problem` for a missing or weak secret (unless
    /// ``ServerConfiguration/insecureDevelopmentMode``), an `IdentityError` for a damaged or
    /// insecure identity, and ``StartError/legacyIdentity(_:)`` for a data directory whose id is
    /// not derived from its key.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "p2pcore.server")) throws {
        var configuration = configuration
        try Self.checkSecrets(&configuration, logger)
        self.configuration = configuration
        let identity = try IdentityStore(directory: configuration.dataDirectory).loadOrCreate()
        guard identity.isSelfCertifying else { throw StartError.legacyIdentity(configuration.dataDirectory) }
        id = identity.id
        var logger = logger
        logger[metadataKey: "p2p.node"] = "\(identity.id)"
        context = ServerContext(
            id: identity.id, identity: identity, configuration: configuration,
            clusterKey: ClusterKey(serverSecret: configuration.serverSecret), logger: logger
        )
        let mappings = ObservedMappings()
        mesh = PeerMesh(context: context, mappings: mappings)
        raft = try RaftDriver(context: context, mesh: mesh)
        gateway = ClientGateway(context: context, raft: raft, mesh: mesh, mappings: mappings)
        admin = AdminService(context: context, raft: raft, mesh: mesh, gateway: gateway)
        ownEndpoint = ServerEndpoint(context: context)
        mesh.route(to: self)
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

    /// Stops a server started with ``start(configuration:logger:)`` (cancels its ``run()``):
    /// closes its links, fails proposals still waiting, syncs and closes its storage. Returns
    /// once stopped.
    public func shutdown() async {
        guard let runner = runner.withLock({ $0 }) else { return }
        runner.cancel()
        _ = try? await runner.value
    }

    /// The replicated mailboxes, once the cluster has formed.
    public var replica: ReplicatedMailboxes? { raft.replica }

    /// Runs until graceful shutdown or cancellation: binds the listener (TCP, and UDP on the same
    /// port), then runs the server's services in one `ServiceGroup`.
    public func run() async throws {
        let logger = context.logger
        let linkConfiguration = context.linkConfiguration
        let metrics = context.metrics
        let listener: LinkListener
        do {
            listener = try await LinkListener.bind(
                host: configuration.listenHost, port: configuration.listenPort, configuration: linkConfiguration,
                vet: ServerContext.vet,
                onFailure: { error in
                    metrics.rejected(.handshake)
                    logger.notice("rejected a connection: \(error)")
                }
            )
        } catch {
            listening.continuation.finish()
            throw error
        }
        await admin.bindSocket()
        // The UDP side of the same port: clients learn their public mapping (and keep it open) here.
        let udp: UDPEndpoint?
        do {
            udp = try await UDPEndpoint.bind(host: configuration.listenHost, port: listener.port, configuration: linkConfiguration)
        } catch {
            logger.warning("no UDP endpoint on port \(listener.port): \(error) (clients behind NAT cannot be hole-punched through this server)")
            udp = nil
        }
        let advertised = configuration.advertiseAddress ?? Self.defaultAdvertisedAddress(configuration.listenHost, listener.port, logger)
        mesh.bind(advertised: advertised, udp: udp)
        ownEndpoint.bind(port: listener.port)
        if let address = configuration.monitorAddress {
            monitor.withLock { $0 = MonitorService(context: context, address: address, server: self) }
        }
        listening.continuation.yield()
        listening.continuation.finish()
        logger.info("server started", metadata: [
            "p2p.listen": "\(configuration.listenHost):\(listener.port)",
            "p2p.advertise": "\(advertised)",
            "p2p.cluster-key": "\(context.clusterKey.fingerprint)",
            "p2p.data": "\(configuration.dataDirectory)",
            "p2p.peers": "\(configuration.peers.joined(separator: ","))",
            "p2p.admin": "\(context.adminSocketPath)\(configuration.adminSecret == nil ? "" : " and remote (admin secret)")",
        ])
        let acceptor = LinkAcceptor(context: context, listener: listener, mesh: mesh, gateway: gateway, admin: admin)
        // Shut down in reverse: the endpoint first, then the listener, admin, clients, Raft, and
        // the links to other servers last (Raft and requests in flight still use them).
        var services: [any Service] = [mesh, raft, gateway, admin, acceptor, ownEndpoint]
        if let monitor = monitor.withLock({ $0 }) { services.append(monitor) }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        do {
            try await withGracefulShutdownHandler {
                try await group.run()
            } onGracefulShutdown: {
                Task { await group.triggerGracefulShutdown() }
            }
        } catch {
            logger.error("server stopped on an error: \(error)")
        }
        monitor.withLock { $0 = nil }
        udp?.close()
        try raft.closeStorage()
        logger.info("server stopped")
    }

    private static func defaultAdvertisedAddress(_ host: String, _ port: Int, _ logger: Logger) -> String {
        guard HostPort.isWildcard(host) else { return HostPort(host: host, port: port).description }
        logger.warning("listening on every interface: other servers will dial 127.0.0.1; set --advertise to this server's reachable address")
        return HostPort(host: "127.0.0.1", port: port).description
    }
}

/// The server routes what other servers say to the component concerned.
extension P2PServer: PeerRouting {
    func received(_ message: RaftMessage) {
        raft.replica?.receive(message)
    }

    func received(_ transfer: SnapshotTransfer, from peer: NodeID) {
        raft.replica?.receive(transfer, from: peer)
    }

    func answer(_ request: PeerRequest, from peer: NodeID) async -> PeerReply {
        switch request {
        case .admin(let request):
            return .admin(await admin.answerAdmin(request, forwarded: true))
        case .commit(let command):
            return await raft.commit(forPeer: command)
        }
    }

    func introduce(_ introduction: Introduction, toClient client: NodeID) async {
        await gateway.introduce(introduction, toClient: client)
    }

    func deliverReceipts(_ receipts: [DeliveryReceipt]) {
        gateway.pushReceipts(receipts)
    }

    func knowsCluster() async -> Bool { await raft.knowsCluster() }

    func registeredServers() -> [NodeID: String] { raft.registeredServers() }
}
