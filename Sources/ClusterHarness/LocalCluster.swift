import Foundation
import P2PClient

/// `p2pcore-server` processes on loopback with their data in a temporary directory, plus
/// client state directories beside them (for tests, the demo and benchmarks).
public final class LocalCluster: @unchecked Sendable {
    // @unchecked: used from one task at a time.
    public let root: String
    public private(set) var ports: [Int]
    public private(set) var servers: [ServerProcess]
    private let binary: String
    public let log = ClusterLog()
    /// The cluster's credentials (fresh for every cluster).
    public let secrets: ClusterSecrets
    /// The cluster secret, which clients hold.
    public var secret: String { secrets.cluster }
    /// The admin secret, for `mailbox-admin --server` and ``AdminClient``.
    public var adminSecret: String { secrets.admin }
    public var names: [String] { servers.map(\.name) }
    public var addresses: [String] { servers.map(\.address) }
    /// The servers' network namespaces, when the cluster runs in them.
    public let network: ServerNetwork?

    public struct BinaryMissing: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "p2pcore-server is not built at \(path); run `swift build` first" }
    }

    /// Starts `size` servers from `binary` and returns once they agree on a leader.
    /// With `network`, each server runs in its own namespace on that network (see ``ServerNetwork``).
    /// `argumentsOfServer` adds arguments for one server only (by its number from 0, e.g. its
    /// own monitor port); servers added later get them too.
    public static func start(
        size: Int = 3, binary: String, secrets: ClusterSecrets = .generate(), serverArguments: [String] = [], network: ServerNetwork? = nil,
        argumentsOfServer: @escaping @Sendable (Int) -> [String] = { _ in [] }
    ) async throws -> LocalCluster {
        let placement = (0..<size).map { index in
            (host: network?.hosts[index] ?? "127.0.0.1", namespace: network?.namespaces[index])
        }
        return try await start(
            placement: placement, binary: binary, secrets: secrets, serverArguments: serverArguments, network: network,
            argumentsOfServer: argumentsOfServer
        )
    }

    /// Starts one server per `placement` entry (its listen host, and the network namespace it
    /// runs in, if any) and returns once they agree on a leader.
    ///
    /// Every server gets every other server's listen address as `--peer` (see ``start(_:)``).
    /// Servers may sit behind NATs: place one in a LAN host namespace of a ``MultiLANTopology``
    /// (``MultiLANTopology/clientNamespace(lan:index:)``) with its LAN address as host. The others
    /// then list that LAN address, which only its own LAN can dial, as an operator behind NAT
    /// would configure them; the servers have to link up by themselves.
    ///
    /// With `waitForLeader` false it returns as soon as the processes are spawned, so that the
    /// caller can wait with its own deadline (``agreedLeader(among:after:timeout:)``) and say
    /// what went wrong if no leader comes.
    public static func start(
        placement: [(host: String, namespace: String?)], binary: String, secrets: ClusterSecrets = .generate(),
        serverArguments: [String] = [], network: ServerNetwork? = nil, waitForLeader: Bool = true,
        argumentsOfServer: @escaping @Sendable (Int) -> [String] = { _ in [] }
    ) async throws -> LocalCluster {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw BinaryMissing(path: binary) }
        let cluster = LocalCluster(
            ports: try await ServerProcess.freePorts(placement.count), placement: placement, binary: binary, secrets: secrets,
            serverArguments: serverArguments, network: network, argumentsOfServer: argumentsOfServer
        )
        do {
            for server in cluster.servers { try cluster.start(server) }
            if waitForLeader { _ = try await cluster.agreedLeader() }
        } catch {
            // Never leave server processes behind (they would hold their ports).
            cluster.stop()
            throw error
        }
        return cluster
    }

    /// The `p2pcore-server` built beside the running executable.
    public static var siblingBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("p2pcore-server").path
    }

    public struct NoAgreedLeader: Error {}

    /// Arguments every server of this cluster gets (beyond listen, data, secret and peers).
    public let serverArguments: [String]
    /// Arguments for one server only, by its number from 0.
    private let argumentsOfServer: @Sendable (Int) -> [String]

    private init(
        ports: [Int], placement: [(host: String, namespace: String?)], binary: String, secrets: ClusterSecrets, serverArguments: [String], network: ServerNetwork?,
        argumentsOfServer: @escaping @Sendable (Int) -> [String]
    ) {
        self.secrets = secrets
        self.serverArguments = serverArguments
        self.argumentsOfServer = argumentsOfServer
        self.network = network
        self.binary = binary
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-\(UUID().uuidString)").path
        self.root = root
        self.ports = ports
        servers = ports.indices.map { index in
            ServerProcess(
                name: "s\(index + 1)", port: ports[index], dataDirectory: "\(root)/s\(index + 1)", binary: binary,
                host: placement[index].host, namespace: placement[index].namespace
            )
        }
    }

    /// Starts (or restarts) one of the cluster's servers with every other server as a peer (by
    /// the address it listens on, which is also the address it advertises).
    public func start(_ server: ServerProcess) throws {
        try server.start(
            peerAddresses: servers.filter { $0 !== server }.map(\.address), log: log, secrets: secrets,
            extraArguments: serverArguments + argumentsOfServer(servers.firstIndex { $0 === server } ?? servers.count)
        )
    }

    /// Starts a new server with an empty data directory that knows only `member`: it joins the
    /// running cluster through it (loopback clusters only).
    public func addServer(through member: ServerProcess) async throws -> ServerProcess {
        let port = try await ServerProcess.freePorts(1)[0]
        let name = "s\(servers.count + 1)"
        let server = ServerProcess(name: name, port: port, dataDirectory: "\(root)/\(name)", binary: binary)
        servers.append(server)
        ports.append(port)
        try server.start(
            peerAddresses: [member.address], log: log, secrets: secrets, extraArguments: serverArguments + argumentsOfServer(servers.count - 1)
        )
        return server
    }

    /// The leader all running `servers` agree on, newer than `term` if given; throws
    /// ``ClusterLog/TimedOut`` after `timeout`.
    @discardableResult
    public func agreedLeader(
        among names: [String]? = nil, after term: Int = 0, timeout: Duration = .seconds(90)
    ) async throws -> (server: ServerProcess, term: Int) {
        let names = names ?? self.names
        let agreed = try await log.wait(for: "a leader that \(names) agree on", timeout: timeout) { lines in
            ClusterLog.agreedLeader(lines, servers: names).flatMap { $0.term > term ? $0 : nil }
        }
        guard let leader = servers.first(where: { $0.nodeID == agreed.leader }) else { throw NoAgreedLeader() }
        return (leader, agreed.term)
    }

    public func clientConfiguration(_ name: String, secret: String? = nil) -> ClientConfiguration {
        var configuration = ClientConfiguration(servers: addresses)
        configuration.stateDirectory = "\(root)/\(name)"
        configuration.secret = secret ?? self.secret
        return configuration
    }

    /// Stops every server gracefully and removes the temporary directory.
    public func stop() {
        for server in servers { server.stop() }
        network?.tearDown()
        try? FileManager.default.removeItem(atPath: root)
    }
}
