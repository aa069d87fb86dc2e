import LMDB
import Logging
import P2PCore
import ServiceLifecycle

/// A p2pcore server: one member of the Raft cluster that keeps the clients' mailboxes.
///
/// Run it as a `Service` in a `ServiceGroup`; it stops gracefully on the group's shutdown.
public final class P2PServer: Service, Sendable {
    /// This server's permanent id (kept in its data directory across restarts).
    public let id: NodeID
    public let configuration: ServerConfiguration
    private let environment: Environment
    private let logger: Logger

    /// Opens (or creates) the server's identity and storage in `configuration.dataDirectory`.
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "p2pcore.server")) throws {
        self.configuration = configuration
        let identity = try IdentityStore(directory: configuration.dataDirectory).loadOrCreate()
        self.id = identity.id
        self.environment = try Environment(path: configuration.dataDirectory + "/lmdb")
        var logger = logger
        logger[metadataKey: "p2p.node"] = "\(identity.id)"
        self.logger = logger
    }

    /// Runs until graceful shutdown or cancellation.
    public func run() async throws {
        logger.info("server started", metadata: [
            "p2p.listen": "\(configuration.listenHost):\(configuration.listenPort)",
            "p2p.data": "\(configuration.dataDirectory)",
            "p2p.peers": "\(configuration.peers.joined(separator: ","))",
        ])
        // Returns on graceful shutdown (SIGTERM/SIGINT through the ServiceGroup) or cancellation.
        try? await gracefulShutdown()
        try environment.sync()
        environment.close()
        logger.info("server stopped")
    }
}
