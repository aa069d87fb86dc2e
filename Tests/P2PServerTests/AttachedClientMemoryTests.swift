import ClientProtocol
import ClusterHarness
import Foundation
import P2PCore
import Testing
import TestSupport
import Transport
import WireCodec

/// What one attached, idle client costs a server in memory (the Scale issue's budget: 50 KiB).
/// Opt-in (`P2PCORE_MEMORY_TEST=1`): it attaches a couple of thousand links.
extension ServerProcessSuites {
@Suite struct AttachedClientMemoryTests {
    static func residentKiB(_ pid: pid_t, _ field: String = "VmRSS:") -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) })
        else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    /// CPU time (user + system) the process used so far, in clock ticks.
    static func cpuTicks(_ pid: pid_t) -> Int? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
        return user + system
    }

    /// Dials the server as a fresh client, says hello and waits for its welcome.
    /// (From `127.0.0.<from>`: a server takes at most 256 links from one address.)
    static func attach(_ address: String, secret: String, from: Int) async throws -> Link {
        let target = try #require(HostPort(address))
        let link = try await LinkDialer.connect(
            host: target.host, port: target.port, configuration: LinkConfiguration(identity: .ephemeral(), secret: secret), localHost: "127.0.0.\(from)"
        )
        try link.send(type: ClientProtocol.requestFrame, ClientRequest.hello(ClientHello(subscribe: true)).encoded())
        for try await frame in link.inbound where frame.type == ClientProtocol.pushFrame {
            if case .welcome = try ServerPush(decoding: frame.bytes) { return link }
        }
        throw TransportError.closed
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["P2PCORE_MEMORY_TEST"] != nil))
    func anIdleAttachedClientCostsTheServerLessThan50KiB() async throws {
        let cluster = try await LocalCluster.start(size: 1, binary: LocalCluster.testBinary)
        defer { cluster.stop() }
        let pid = try #require(cluster.servers[0].processID)
        let count = Int(ProcessInfo.processInfo.environment["P2PCORE_MEMORY_CLIENTS"] ?? "") ?? 2_000
        // A first batch warms the allocator and the pools, so that the measured batch is the marginal cost.
        var links = try await Self.attachAll(200, cluster, firstHost: 2)
        try await Task.sleep(for: .seconds(2))
        let before = try #require(Self.residentKiB(pid))
        let anonymousBefore = try #require(Self.residentKiB(pid, "RssAnon:"))
        links += try await Self.attachAll(count, cluster, firstHost: 3)
        try await Task.sleep(for: .seconds(5))
        let after = try #require(Self.residentKiB(pid))
        let anonymousAfter = try #require(Self.residentKiB(pid, "RssAnon:"))
        let perClient = Double(after - before) * 1024 / Double(count)
        let heapPerClient = Double(anonymousAfter - anonymousBefore) * 1024 / Double(count)
        // The rest is LMDB's mapped pages (registrations, Raft log): page cache, not heap.
        print("server RSS \(before) KiB → \(after) KiB with \(count) more idle clients: \(Int(perClient)) bytes per client, \(Int(heapPerClient)) of them anonymous")
        #expect(perClient < 50 * 1024)
        // Idle: no per-client timers on the server (the budget is 10% of a core at 10,000 clients).
        let ticksBefore = try #require(Self.cpuTicks(pid))
        try await Task.sleep(for: .seconds(10))
        let idleShare = Double(try #require(Self.cpuTicks(pid)) - ticksBefore) / Double(sysconf(Int32(_SC_CLK_TCK))) / 10
        print("idle CPU with \(count + 200) attached clients: \(Int(idleShare * 1000) / 10)% of one core")
        #expect(idleShare < 0.05)
        for link in links { link.close() }
    }

    static func attachAll(_ count: Int, _ cluster: LocalCluster, firstHost: Int) async throws -> [Link] {
        try await withThrowingTaskGroup(of: Link.self) { group in
            var links: [Link] = []
            for index in 0..<count {
                if index >= 8, let link = try await group.next() { links.append(link) }
                group.addTask { try await Self.attach(cluster.addresses[0], secret: cluster.secret, from: firstHost + index / 200) }
            }
            for try await link in group { links.append(link) }
            return links
        }
    }
}
}
