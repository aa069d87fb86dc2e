import Foundation
import P2PClient
import Testing

/// Three `p2pcore-server` processes on loopback in a temporary directory, plus client state
/// directories beside them.
final class LocalCluster: @unchecked Sendable {
    // @unchecked: only used from the test's own task.
    let root: String
    let ports: [Int]
    let servers: [ServerProcess]
    let log = ClusterLog()
    var names: [String] { servers.map(\.name) }
    var addresses: [String] { ports.map { "127.0.0.1:\($0)" } }

    static func start(size: Int = 3) async throws -> LocalCluster {
        try #require(FileManager.default.fileExists(atPath: ServerProcess.binary.path), "p2pcore-server is not built; run `swift build` first")
        let cluster = LocalCluster(ports: try await ServerProcess.freePorts(size))
        for server in cluster.servers { try cluster.start(server) }
        _ = try await cluster.agreedLeader()
        return cluster
    }

    private init(ports: [Int]) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-\(UUID().uuidString)").path
        self.root = root
        self.ports = ports
        servers = ports.indices.map { ServerProcess(name: "s\($0 + 1)", port: ports[$0], dataDirectory: "\(root)/s\($0 + 1)") }
    }

    func start(_ server: ServerProcess) throws {
        try server.start(peers: ports.filter { $0 != server.port }, log: log)
    }

    /// The leader all running `servers` agree on, newer than `term` if given.
    @discardableResult
    func agreedLeader(among names: [String]? = nil, after term: Int = 0) async throws -> (server: ServerProcess, term: Int) {
        let names = names ?? self.names
        let agreed = try await log.wait(for: "a leader that \(names) agree on") { lines in
            ClusterProcessTests.agreedLeader(lines, servers: names).flatMap { $0.term > term ? $0 : nil }
        }
        let leader = try #require(servers.first { $0.nodeID == agreed.leader })
        return (leader, agreed.term)
    }

    func clientConfiguration(_ name: String, secret: String = "test-secret") -> ClientConfiguration {
        var configuration = ClientConfiguration(servers: addresses)
        configuration.stateDirectory = "\(root)/\(name)"
        configuration.secret = secret
        return configuration
    }

    func stop() {
        for server in servers { server.stop() }
        try? FileManager.default.removeItem(atPath: root)
    }
}
