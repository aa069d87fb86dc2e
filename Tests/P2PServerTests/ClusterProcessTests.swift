import Foundation
import Testing

/// Real `p2pcore-server` processes on loopback.
@Suite(.serialized) struct ClusterProcessTests {
    /// The leader every given server currently reports (from its latest "leader changed" line),
    /// if they all report the same one.
    static func agreedLeader(_ lines: [String], servers: [String]) -> (leader: String, term: Int)? {
        var latest: [String: (String, Int)] = [:]
        for line in lines where line.contains("leader changed") {
            guard let name = servers.first(where: { line.hasPrefix("[\($0)]") }),
                  let leader = field("raft.leader", in: line), let term = field("raft.term", in: line).flatMap(Int.init)
            else { continue }
            latest[name] = (leader, term)
        }
        let reports = servers.compactMap { latest[$0] }
        guard reports.count == servers.count, let first = reports.first, first.0 != "none",
              reports.allSatisfy({ $0 == first }) else { return nil }
        return first
    }

    static func field(_ key: String, in line: String) -> String? {
        guard let range = line.range(of: key + "=") else { return nil }
        return String(line[range.upperBound...].prefix { $0 != " " })
    }

    @Test func threeServersElectALeaderReelectAfterSIGKILLAndARestartedServerRejoins() async throws {
        guard FileManager.default.fileExists(atPath: ServerProcess.binary.path) else {
            Issue.record("p2pcore-server is not built at \(ServerProcess.binary.path); run `swift build` first")
            return
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-cluster-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let ports = try await ServerProcess.freePorts(3)
        let servers = (0..<3).map { ServerProcess(name: "s\($0 + 1)", port: ports[$0], dataDirectory: "\(root)/s\($0 + 1)") }
        let names = servers.map(\.name)
        let log = ClusterLog()
        defer { for server in servers { server.stop() } }
        for server in servers { try server.start(peers: ports.filter { $0 != server.port }, log: log) }

        let first = try await log.wait(for: "a leader all three agree on") { Self.agreedLeader($0, servers: names) }
        let leader = try #require(servers.first { $0.nodeID == first.leader })

        leader.kill(signal: SIGKILL)
        let survivors = servers.filter { $0 !== leader }.map(\.name)
        let second = try await log.wait(for: "a new leader after SIGKILL") { lines in
            Self.agreedLeader(lines, servers: survivors).flatMap { $0.leader != first.leader ? $0 : nil }
        }
        #expect(second.term > first.term)

        try leader.start(peers: ports.filter { $0 != leader.port }, log: log)
        let rejoined = try await log.wait(for: "the restarted server to follow the new leader") { lines in
            Self.agreedLeader(lines, servers: names).flatMap { $0.term >= second.term ? $0 : nil }
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
