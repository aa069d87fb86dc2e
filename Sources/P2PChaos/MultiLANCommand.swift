import ArgumentParser
import ClusterHarness
import Foundation
import P2PCore

/// `p2pcore-chaos multilan`: the direct-tunnel acceptance on a real multi-LAN topology in
/// network namespaces (root only): same-LAN clients go direct over the LAN, clients behind cone
/// NATs over a hole-punched UDP tunnel (the servers carry none of their payload), a client behind
/// a symmetric NAT through the relay; then a LAN's router is cut mid-stream and restored, and
/// every message must arrive exactly once, in order.
struct MultiLANCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multilan",
        abstract: "Direct tunnels across NATed LANs in network namespaces (root; skips elsewhere, saying why).",
        discussion: """
        Topology: 3 servers on a WAN; LAN1 with two clients behind a cone NAT; LAN2 with one
        client behind another cone NAT; LAN3 with one client behind a symmetric NAT. Routers drop
        unsolicited inbound traffic. Prints one summary line; exits non-zero on any failure.

        Examples:
          p2pcore-chaos multilan
          p2pcore-chaos multilan --messages 5000
        """
    )

    @Option(help: "Messages streamed from LAN1 to LAN2 across the router cut and restore.")
    var messages: Int = 5000

    @Option(help: "Messages per direction in the path checks.")
    var burst: Int = 200

    func run() async throws {
        if let reason = MultiLANTopology.unavailableReason {
            print("multilan: SKIPPED — \(reason) (the multi-LAN tests build network namespaces with NAT routers; run as root with iproute2 and iptables)")
            return
        }
        let run = try await MultiLANRun.start()
        let passed: Bool
        do {
            passed = try await run.execute(streamed: messages, burst: burst)
        } catch {
            print("multilan: error: \(error)")
            passed = false
        }
        await run.stop()
        if !passed { throw ExitCode(1) }
    }
}

/// One run of the multi-LAN scenario: the topology, the cluster in it, and four client processes.
final class MultiLANRun: Sendable {
    let topology: MultiLANTopology
    let cluster: LocalCluster
    let handles: [ClientHandle]
    let ids: [NodeID]
    let names = ["lan1a", "lan1b", "lan2", "lan3"]
    let log: MultiLANLog

    private init(topology: MultiLANTopology, cluster: LocalCluster, handles: [ClientHandle], ids: [NodeID], log: MultiLANLog) {
        self.topology = topology
        self.cluster = cluster
        self.handles = handles
        self.ids = ids
        self.log = log
    }


    static func start() async throws -> MultiLANRun {
        let topology = try MultiLANTopology.create(servers: 3, lans: [
            .init(nat: .cone, clients: 2), .init(nat: .cone, clients: 1), .init(nat: .symmetric, clients: 1),
        ])
        let placement = (0..<3).map { (host: topology.serverHosts[$0], namespace: Optional(topology.serverNamespaces[$0])) }
        let cluster: LocalCluster
        do {
            cluster = try await LocalCluster.start(placement: placement, binary: LocalCluster.siblingBinary)
        } catch {
            topology.tearDown()
            throw error
        }
        let log = MultiLANLog()
        let seats = [(0, 0), (0, 1), (1, 0), (2, 0)]
        var handles: [ClientHandle] = []
        var ids: [NodeID] = []
        do {
            for (index, seat) in seats.enumerated() {
                let handle = ClientHandle(
                    index: index, stateDirectory: "\(cluster.root)/client\(index)",
                    namespace: topology.clientNamespace(lan: seat.0, index: seat.1), listen: "0.0.0.0:7100"
                )
                handles.append(handle)
                let id = try await handle.start(
                    binary: CommandLine.arguments[0], servers: cluster.addresses, secret: cluster.secret,
                    onLine: { line in log.record(client: index, line) }
                )
                ids.append(id)
            }
        } catch {
            for handle in handles { await handle.stop() }
            cluster.stop()
            topology.tearDown()
            throw error
        }
        log.setIDs(ids)
        return MultiLANRun(topology: topology, cluster: cluster, handles: handles, ids: ids, log: log)
    }

    func stop() async {
        for handle in handles { await handle.stop() }
        cluster.stop()
        topology.tearDown()
    }

    // MARK: The scenario

    func execute(streamed: Int, burst: Int) async throws -> Bool {
        var failures: [String] = []
        let (lan1a, lan1b, lan2, lan3) = (0, 1, 2, 3)

        // 1. Traffic between every pair starts the path attempts; wait for the direct ones.
        let pathsUp = try await repeatUntil(timeout: .seconds(45)) {
            for (from, to) in [(lan1a, lan1b), (lan1a, lan2), (lan2, lan1a), (lan1a, lan3), (lan3, lan2)] {
                _ = try await send(from: from, to: to, count: 1)
            }
            let paths = try await paths(of: lan1a)
            return paths[ids[lan1b]] == "lan" && paths[ids[lan2]] == "udp"
        }
        let lan1Paths = try await paths(of: lan1a)
        let lan3Paths = try await paths(of: lan3)
        print("paths of lan1a: \(describe(lan1Paths)); of lan3: \(describe(lan3Paths))")
        if !pathsUp { failures.append("direct paths did not come up: lan1a has \(describe(lan1Paths))") }
        if lan1Paths[ids[lan3]] != nil || !lan3Paths.isEmpty { failures.append("lan3 (symmetric NAT) got a direct path") }

        // 2. Direct pairs: the servers relay nothing.
        let before = try await relayed()
        for (from, to) in [(lan1a, lan1b), (lan1b, lan1a), (lan1a, lan2), (lan2, lan1a)] {
            let failed = try await send(from: from, to: to, count: burst)
            if failed > 0 { failures.append("\(failed) of \(burst) sends \(names[from])→\(names[to]) failed") }
        }
        let afterDirect = try await relayed()
        if afterDirect != before { failures.append("servers relayed \(afterDirect - before) messages of direct pairs") }
        // 3. The symmetric-NAT client: through the relay.
        let failedRelay = try await send(from: lan3, to: lan1a, count: burst)
        if failedRelay > 0 { failures.append("\(failedRelay) of \(burst) sends lan3→lan1a failed") }
        let afterRelay = try await relayed()
        if afterRelay < afterDirect + UInt64(burst) { failures.append("lan3's messages were not relayed (\(afterRelay - afterDirect) of \(burst))") }
        print("relayed: direct pairs \(afterDirect - before) of \(4 * burst) messages; lan3→lan1a \(afterRelay - afterDirect) of \(burst)")
        // 3b. `mailbox-admin path` says why lan3's pairs are relayed.
        failures += try await checkPathDiagnostics(symmetric: lan3, cone: lan1a)

        // 4. A stream LAN1 → LAN2 across a cut of LAN2's router and its restoration.
        let switches = try await streamAcrossCut(from: lan1a, to: lan2, count: streamed)
        failures += switches.failures

        // 5. Exactly once, in order, for every pair.
        let check = log.check()
        failures += check.violations
        failures += handles.compactMap(\.exitedOnItsOwn)
        let result = failures.isEmpty ? "PASS" : "FAIL"
        print("multilan lan1↔lan1=\(lan1Paths[ids[lan1b]] ?? "relay") lan1↔lan2=\(lan1Paths[ids[lan2]] ?? "relay") lan3=\(lan1Paths[ids[lan3]] ?? "relay") "
            + "relayed-by-direct-pairs=\(afterDirect - before) stream=\(streamed) path-switches=\(switches.history.joined(separator: "→")) "
            + "relayed-during-cut=\(switches.relayedDuringCut) received=\(check.received) lost=\(check.lost) duplicated=\(check.duplicated) "
            + "reordered=\(check.reordered) result=\(result)")
        for failure in failures { print("  failure: \(failure)") }
        return failures.isEmpty
    }

    private struct SwitchReport {
        var history: [String] = []
        var relayedDuringCut: UInt64 = 0
        var failures: [String] = []
    }

    /// Streams `count` messages at a steady pace while LAN2's router is cut (once the stream is
    /// under way) and restored (once the direct path is seen gone).
    private func streamAcrossCut(from: Int, to: Int, count: Int) async throws -> SwitchReport {
        var report = SwitchReport()
        let peer = ids[to]
        report.history.append(try await paths(of: from)[peer] ?? "relay")
        let base = log.sentCount(client: from)
        let stream = Task { try await self.send(from: from, to: to, count: count, window: 32, perSecond: 250) }
        defer { stream.cancel() }
        guard try await repeatUntil(timeout: .seconds(60), { self.log.sentCount(client: from) >= base + min(1_000, count / 5) }) else {
            report.failures.append("the stream did not get going")
            return report
        }
        let beforeCut = try await relayed()
        try topology.cut(lan: 1)
        let down = try await repeatUntil(timeout: .seconds(20)) { try await self.paths(of: from)[peer] == nil }
        if down { report.history.append("relay") } else { report.failures.append("the direct path survived the router cut") }
        try await Task.sleep(for: .seconds(2))  // a while on the relay, as an outage would be
        try topology.restore(lan: 1)
        let back = try await repeatUntil(timeout: .seconds(60)) { try await self.paths(of: from)[peer] == "udp" }
        if back { report.history.append("udp") } else { report.failures.append("the direct path did not come back after the restore") }
        report.relayedDuringCut = try await relayed() - beforeCut
        if report.relayedDuringCut == 0 { report.failures.append("nothing went through the relay while the router was cut") }
        let failed = try await stream.value
        if failed > 0 { report.failures.append("\(failed) of \(count) streamed sends failed") }
        return report
    }

    // MARK: Driving the clients

    /// Sends `count` messages `from` → `to`, at most `window` at once (and `perSecond`), and
    /// waits for all their results; returns how many did not end `ok`.
    private func send(from: Int, to: Int, count: Int, window: Int = 32, perSecond: Int? = nil) async throws -> Int {
        let tags = (0..<count).map { _ in log.nextTag() }
        let start = ContinuousClock.now
        for (index, tag) in tags.enumerated() {
            while log.outstanding(client: from) >= window {
                try await Task.sleep(for: .milliseconds(2))
            }
            if let perSecond {
                let due = start + .milliseconds(index * 1000 / perSecond)
                if due > .now { try await Task.sleep(until: due) }
            }
            log.willSend(client: from, tag: tag, to: ids[to])
            handles[from].send(tag: tag, to: ids[to], size: 64 + Int(tag % 512), timeoutMillis: 120_000)
        }
        let deadline = ContinuousClock.now + .seconds(180)
        while log.outstanding(client: from) > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        return tags.filter { log.result(of: $0) != "ok" }.count
    }

    /// The client's direct paths, as it reports them.
    private func paths(of client: Int) async throws -> [NodeID: String] {
        let asked = log.pathsAnswers(client: client)
        handles[client].requestPaths()
        let deadline = ContinuousClock.now + .seconds(10)
        while log.pathsAnswers(client: client) == asked, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        return log.latestPaths(client: client)
    }

    private func describe(_ paths: [NodeID: String]) -> String {
        let named = paths.map { peer, kind in "\(ids.firstIndex(of: peer).map { names[$0] } ?? "\(peer)")=\(kind)" }.sorted()
        return named.isEmpty ? "none" : named.joined(separator: ",")
    }

    /// Messages the servers accepted into mailboxes, summed (asked from inside the WAN).
    private func relayed() async throws -> UInt64 {
        let output = try Self.output([
            "/usr/sbin/ip", "netns", "exec", topology.serverNamespaces[0], CommandLine.arguments[0], "relay-count",
            "--servers", cluster.addresses.joined(separator: ","), "--admin-secret=\(cluster.adminSecret)",
        ])
        guard let count = UInt64(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ValidationError("relay-count printed \(output)")
        }
        return count
    }

    /// Runs a command and returns its standard output.
    private static func output(_ argv: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("\(argv.joined(separator: " ")) exited with \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `step` until it returns true or `timeout` passed.
    private func repeatUntil(timeout: Duration, _ step: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await step() { return true }
            try await Task.sleep(for: .milliseconds(500))
        }
        return false
    }
}
