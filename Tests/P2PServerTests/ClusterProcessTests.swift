import ClusterHarness
import Foundation
import Testing

/// Real `p2pcore-server` processes on loopback.
/// Every suite that runs server processes, one test at a time: on 2 cores, parallel clusters
/// starve each other's elections.
@Suite(.serialized) enum ServerProcessSuites {}

extension ServerProcessSuites {
@Suite struct ClusterProcessTests {
    @Test func threeServersElectALeaderReelectAfterSIGKILLAndARestartedServerRejoins() async throws {
        let binary = LocalCluster.testBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "p2pcore-server is not built at \(binary); run `swift build` first")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-cluster-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ports = try await ServerProcess.freePorts(3)
        let servers = (0..<3).map { ServerProcess(name: "s\($0 + 1)", port: ports[$0], dataDirectory: "\(root)/s\($0 + 1)", binary: binary) }
        let names = servers.map(\.name)
        let log = ClusterLog()
        defer { for server in servers { server.stop() } }
        for server in servers { try server.start(peers: ports.filter { $0 != server.port }, log: log, secret: "test-secret") }

        let first = try await log.wait(for: "a leader all three agree on") { ClusterLog.agreedLeader($0, servers: names) }
        let leader = try #require(servers.first { $0.nodeID == first.leader })

        leader.kill(signal: SIGKILL)
        let survivors = servers.filter { $0 !== leader }.map(\.name)
        let second = try await log.wait(for: "a new leader after SIGKILL") { lines in
            ClusterLog.agreedLeader(lines, servers: survivors).flatMap { $0.leader != first.leader ? $0 : nil }
        }
        #expect(second.term > first.term)

        try leader.start(peers: ports.filter { $0 != leader.port }, log: log, secret: "test-secret")
        let rejoined = try await log.wait(for: "the restarted server to follow the new leader") { lines in
            ClusterLog.agreedLeader(lines, servers: names).flatMap { $0.term >= second.term ? $0 : nil }
        }
        #expect(rejoined.leader == second.leader)

        for server in servers { server.stop() }
        // The last lines may still be in the pipes when the processes have exited: await them.
        let stopped = try await log.wait(for: "three graceful stops") { lines in
            let count = lines.filter { $0.contains("server stopped") }.count
            return count >= 3 ? count : nil
        }
        #expect(stopped == 3, "the SIGTERMed servers shut down gracefully")
    }
}
}

extension LocalCluster {
    /// The debug build of `p2pcore-server` that `swift build` made for this package.
    static var testBinary: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/p2pcore-server").path
    }

    static func start() async throws -> LocalCluster {
        try await LocalCluster.start(size: 3, binary: testBinary)
    }
}
