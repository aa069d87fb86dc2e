import ClientProtocol
import Foundation
import LMDB
import Logging
import MessageModel
import P2PCore
import Transport

/// A p2pcore client: sends messages to other clients by id and receives theirs.
///
/// It attaches to up to ``ClientConfiguration/maximumAttachedServers`` of the configured servers
/// (the same ones across restarts, another while one is unreachable) and re-attaches when one
/// comes back. `send` returns
/// only once the recipient's application received the message; `receive()` hands out messages
/// exactly once, in order per sender, across reconnects, restarts and leader changes.
public final class P2PClient: Sendable {
    /// This client's permanent id (kept in its state directory).
    public let id: NodeID
    public let configuration: ClientConfiguration
    let engine: ClientEngine
    private let environment: Environment
    private let links: Task<Void, Never>

    private init(id: NodeID, configuration: ClientConfiguration, engine: ClientEngine, environment: Environment, links: Task<Void, Never>) {
        self.id = id
        self.configuration = configuration
        self.engine = engine
        self.environment = environment
        self.links = links
    }

    /// Loads (or creates) the client's identity and ledger, attaches to the servers, and returns
    /// once one of them accepted it. Throws ``ClientError`` if none did within `startTimeout`,
    /// and `IdentityError` or `LMDBError` if the state directory is damaged.
    public static func start(
        _ configuration: ClientConfiguration, logger: Logger = Logger(label: "p2pcore.client")
    ) async throws -> P2PClient {
        let identity = try IdentityStore(directory: configuration.stateDirectory).loadOrCreate()
        return try await start(configuration, identity: identity, logger: logger)
    }

    /// The configured cluster key, parsed; throws ``ClientError/invalidClusterKey(_:)`` for a malformed one.
    static func configuredClusterKey(_ configuration: ClientConfiguration) throws -> [UInt8]? {
        guard let text = configuration.clusterKey else { return nil }
        guard let key = ClusterKey.publicKey(fingerprint: text) else { throw ClientError.invalidClusterKey(text) }
        return key
    }

    /// Starts with an identity the caller keeps itself (a server's endpoint uses the server's
    /// own); the state directory then holds only the ledger.
    public static func start(
        _ configuration: ClientConfiguration, identity: NodeIdentity, logger: Logger = Logger(label: "p2pcore.client")
    ) async throws -> P2PClient {
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        let lmdb = configuration.stateDirectory + "/lmdb"
        let journal = lmdb + "/ledger.journal"
        try IdentityStore.checkPermissions(directory: lmdb, secret: [lmdb + "/data.mdb", lmdb + "/lock.mdb", journal])
        let environment = try Environment(path: lmdb)
        let ledger: ClientLedger
        do {
            ledger = try ClientLedger(environment: environment, me: identity.id, journalPath: journal)
        } catch {
            environment.close()
            throw error
        }
        var logger = logger
        logger[metadataKey: "p2p.client"] = "\(identity.id)"
        let linkConfiguration = LinkConfiguration(identity: identity, secret: configuration.secret)
        var direct: DirectPaths?
        if configuration.directTunnels {
            do {
                direct = try await DirectPaths(
                    host: configuration.listenHost, port: Int(configuration.listenPort), servers: configuration.servers,
                    linkConfiguration: linkConfiguration, logger: logger
                )
            } catch {
                environment.close()
                throw ClientError.cannotListen("\(configuration.listenHost):\(configuration.listenPort): \(error)")
            }
        }
        let engine: ClientEngine
        do {
            engine = try ClientEngine(
                me: identity.id, ledger: ledger, linkConfiguration: linkConfiguration,
                configuration: configuration, direct: direct,
                pin: ClusterKeyPin(directory: configuration.stateDirectory, configured: try Self.configuredClusterKey(configuration)), logger: logger
            )
        } catch {
            await direct?.stop()
            environment.close()
            throw error
        }
        await direct?.start(DirectPaths.Hooks(
            introduce: { peer, tcp, udp in await engine.introduce(peer, tcp: tcp, udp: udp) },
            publicKey: { peer in await engine.publicKey(of: peer) },
            onFrame: { link, frame in await engine.directFrame(link, frame) },
            onChange: { peers in await engine.directPeersChanged(peers) }
        ))
        let links = Task {
            await withDiscardingTaskGroup { group in
                group.addTask { await engine.maintainServers() }
                group.addTask { await engine.reportPathsForever() }
            }
        }
        let client = P2PClient(id: identity.id, configuration: configuration, engine: engine, environment: environment, links: links)
        do {
            await engine.resume()
            try await engine.waitUntilAttached(timeout: configuration.startTimeout)
        } catch {
            await client.shutdown()
            throw error
        }
        return client
    }

    /// Sends `data` to the client `recipient` and returns once its application received it.
    ///
    /// Throws a ``SendError``: `.stored`/`.pending` at the deadline mean the message will still
    /// be delivered exactly once; the others mean it was not accepted (or was refused).
    /// Returns the message's id (the one the recipient's ``ReceivedMessage`` carries).
    @discardableResult
    public func send(to recipient: NodeID, data: [UInt8], timeout: Duration? = nil) async throws -> MessageID {
        try await engine.send(to: recipient, data: data, timeout: timeout ?? configuration.sendTimeout, timeToLive: nil)
    }

    /// Sends `data` to `recipient` with a time to live: if the recipient has not taken it within
    /// `timeToLive` (counted from now, by this host's clock), it expires — it is never delivered,
    /// the recipient passes over it, and `send` (if still waiting) throws ``SendError/expired(_:)``.
    /// Such a message always goes through the cluster, which decides its fate once
    /// (docs/DELIVERY.md, "Expiry"). Servers may cap the time to live.
    @discardableResult
    public func send(to recipient: NodeID, data: [UInt8], timeToLive: Duration, timeout: Duration? = nil) async throws -> MessageID {
        try await engine.send(to: recipient, data: data, timeout: timeout ?? configuration.sendTimeout, timeToLive: timeToLive)
    }

    /// Messages from any sender, exactly once, in order per sender (iterate from one task).
    public func receive() -> ReceivedMessages { ReceivedMessages(engine: engine) }

    /// Received messages in batches of up to `limit`: what has arrived, in order per sender,
    /// recorded delivered with one ledger sync per batch and handed out in one piece — for
    /// throughput, where ``receive()`` syncs once per message. Use one of the two at a time.
    ///
    ///     for try await batch in client.receive(upTo: 256) {
    ///         for message in batch { handle(message) }
    ///     }
    public func receive(upTo limit: Int) -> ReceivedBatches { ReceivedBatches(engine: engine, limit: max(1, limit)) }

    /// The leader as last reported, the servers this client is attached to, and the configured
    /// addresses it is not connected to.
    public func servers() async -> (leader: NodeID?, connected: [NodeID], unconnected: [String]) {
        await engine.serverStatus
    }

    /// Since start: how many sent messages were acknowledged on a direct path, and how many
    /// through the relay (the recipient acknowledged them to the cluster).
    public func deliveryCounts() async -> (direct: Int, relayed: Int) {
        await engine.deliveries
    }

    /// The direct paths this client has now, by peer: a LAN link or a UDP tunnel.
    public func directPaths() async -> [NodeID: DirectPathKind] {
        await engine.direct?.kinds ?? [:]
    }

    /// Closes the links and the ledger. Pending `send`s throw ``SendError/clientStopped``;
    /// messages still in the outbox are resumed by the next start with the same state directory.
    public func shutdown() async {
        // A receive whose messages the ledger is recording gets them first: recorded as
        // delivered, they would not come again after a restart.
        await engine.deliveriesSettled()
        links.cancel()
        await engine.stop()
        await engine.direct?.stop()
        await links.value
        try? environment.sync()
        environment.close()
    }
}
