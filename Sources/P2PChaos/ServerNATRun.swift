import AdminProtocol
import ArgumentParser
import ClusterHarness
import Foundation
import P2PCore
import Synchronization

/// One run of the servers-behind-NAT scenario.
final class ServerNATRun: Sendable {
    let symmetric: Bool
    let topology: MultiLANTopology
    /// The client processes: 0 on the WAN, 1-2 in LAN2, 3-4 in LAN3.
    let clientNames = ["wan", "lan2a", "lan2b", "lan3a", "lan3b"]
    /// Streams (sender, recipient): LAN2↔LAN3 both ways twice, WAN→LAN2 and LAN3→WAN.
    let streams = [(1, 3), (3, 1), (2, 4), (4, 2), (0, 1), (4, 0)]
    let mailboxAdmin: String
    let label: String

    struct Parts {
        var cluster: LocalCluster?
        var handles: [ClientHandle] = []
        var checker: DeliveryChecker?
    }
    let parts = Mutex(Parts())
    let stopping = Mutex(false)
    let lastTag = Mutex<UInt64>(0)

    var cluster: LocalCluster { parts.withLock { $0.cluster! } }
    var handles: [ClientHandle] { parts.withLock { $0.handles } }
    var checker: DeliveryChecker { parts.withLock { $0.checker! } }

    /// Builds the topology (nothing runs in it yet).
    init(symmetric: Bool) throws {
        self.symmetric = symmetric
        label = symmetric ? "servernat --symmetric" : "servernat"
        mailboxAdmin = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("mailbox-admin").path
        // Two WAN hosts: s1's and the WAN client's. Host 0 of each LAN is its server.
        topology = try MultiLANTopology.create(servers: 2, lans: [
            .init(nat: .cone, clients: 3), .init(nat: symmetric ? .symmetric : .cone, clients: 3),
        ])
    }

    /// On SIGINT or SIGTERM: kill every process of the run, remove the namespaces, exit.
    func abortOnSignals() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                print("\(label): interrupted; tearing down")
                let (cluster, handles) = parts.withLock { ($0.cluster, $0.handles) }
                for handle in handles { handle.kill() }
                for server in cluster?.servers ?? [] { server.kill(signal: SIGKILL) }
                topology.tearDown()
                if let root = cluster?.root { try? FileManager.default.removeItem(atPath: root) }
                exit(128 + number)
            }
            source.resume()
            return source
        }
    }

    /// Stops every process and removes the namespaces; on failure keeps the logs (servers' and
    /// clients') in the cluster's directory and says where.
    func stop(keepLogs: Bool) async {
        let (cluster, handles) = parts.withLock { ($0.cluster, $0.handles) }
        await withTaskGroup(of: Void.self) { group in
            for handle in handles { group.addTask { await handle.stop() } }
        }
        if let cluster {
            if keepLogs {
                for server in cluster.servers { server.stop() }
                let file = "\(cluster.root)/servers.log"
                try? (cluster.log.all.joined(separator: "\n") + "\n").write(toFile: file, atomically: false, encoding: .utf8)
                print("\(label): kept the servers' log in \(file) and the clients' logs beside it")
            } else {
                cluster.stop()
            }
        }
        topology.tearDown()
    }

    // MARK: The scenario

    func execute(rate: Int) async throws -> Bool {
        guard FileManager.default.isExecutableFile(atPath: mailboxAdmin) else {
            print("\(label): mailbox-admin is not built at \(mailboxAdmin) (swift build --product mailbox-admin) result=FAIL")
            return false
        }
        var failures: [String] = []
        let pairLabel = symmetric ? "relayed(via s1)" : "udp-punched"

        // 1. Bootstrap: each server lists the others' listen addresses (LAN ones for s2 and s3).
        let placement: [(host: String, namespace: String?)] = [
            (topology.serverHosts[0], topology.serverNamespaces[0]),
            (topology.clientHost(lan: 0, index: 0), topology.clientNamespace(lan: 0, index: 0)),
            (topology.clientHost(lan: 1, index: 0), topology.clientNamespace(lan: 1, index: 0)),
        ]
        let started = ContinuousClock.now
        let cluster = try await LocalCluster.start(placement: placement, binary: LocalCluster.siblingBinary, waitForLeader: false)
        parts.withLock { $0.cluster = cluster }
        let (s1, s2, s3) = (cluster.servers[0], cluster.servers[1], cluster.servers[2])
        do {
            try await cluster.agreedLeader(timeout: .seconds(45))
        } catch {
            print("\(label): no leader after 45 s: s1, s2 and s3 did not form a cluster (s1 cannot dial s2's and s3's LAN addresses; "
                + "s2 and s3 can only dial s1, and must reach each other \(symmetric ? "through s1" : "by UDP hole punching"))")
            for server in cluster.servers { print("  \(await ServerNATAdmin.ownStatusLine(of: server, names: names))") }
            printLogTail()
            print("\(label) s2↔s3=? bootstrap=none-in-45s result=FAIL")
            return false
        }
        let bootstrap = started.duration(to: .now)

        // 2. Every server's `mailbox-admin status --json`: one leader, healthy, the expected links.
        let expected = [
            "s1→s2": "tcp-in", "s1→s3": "tcp-in", "s2→s1": "tcp-out", "s3→s1": "tcp-out", "s2→s3": pairLabel, "s3→s2": pairLabel,
        ]
        let (views, viewProblem) = await agreedViews(expected: expected, within: .seconds(30))
        let linksAgreed = started.duration(to: .now)
        let pairKind = views.first?.links["s2→s3"] ?? "?"
        if let viewProblem {
            failures.append(viewProblem)
            for view in views { print("  \(view.description)") }
        } else {
            print("\(label): every server's status agrees: leader \(views[0].leader ?? "?"); \(views[0].linkSummary)")
        }

        // 3. Clients: one on the WAN, two in each LAN, direct tunnels off.
        try await startClients()

        // 4. s1 leads (so that killing it forces an election), and the streams run.
        if let problem = await makeLeader(s1) { failures.append("could not make s1 the leader before the kill: \(problem)") }
        let streaming = Task { await self.stream(rate: rate) }
        defer { stopping.withLock { $0 = true } }
        try await Task.sleep(for: .seconds(4))
        let beforeKill = checker.tally { _, sender, recipient in self.isLANPair(sender, recipient) }
        if beforeKill.committed == 0 { failures.append("no LAN2↔LAN3 message was committed while all three servers ran (\(beforeKill))") }

        // 5. SIGKILL s1 while traffic flows.
        guard let s1ID = s1.nodeID else { throw ValidationError("s1 has no node id") }
        let killed = ContinuousClock.now
        s1.kill(signal: SIGKILL)
        let tagAtKill = lastTag.withLock { $0 }
        let (s2Name, s3Name) = (s2.name, s3.name)
        let newLeader = try? await cluster.log.wait(for: "s2 and s3 to agree on a leader other than s1", timeout: .seconds(symmetric ? 10 : 15)) { lines in
            ClusterLog.agreedLeader(lines, servers: [s2Name, s3Name]).flatMap { $0.leader != "\(s1ID)" ? $0 : nil }
        }
        let leaderAfterKill = newLeader.map { _ in killed.duration(to: .now) }
        let tagAtLeader = lastTag.withLock { $0 }

        var afterKill = DeliveryChecker.Tally()
        var pairAfterKill = "?"
        var symmetricStatement = ""
        if symmetric {
            // No path between s2 and s3: expect no leader and no commit while s1 is down.
            try await Task.sleep(for: .seconds(newLeader == nil ? 0 : 2))
            let s2Status = await ServerNATAdmin.ownStatusLine(of: s2, names: names, brief: true)
            let s3Status = await ServerNATAdmin.ownStatusLine(of: s3, names: names, brief: true)
            for server in [s2, s3] {
                if case .success(let status) = await ServerNATAdmin.ownStatus(of: server), status.role == "leader" {
                    failures.append("UNEXPECTED: \(server.name) calls itself the leader while s1 is down (term \(status.term))")
                }
            }
            stopping.withLock { $0 = true }
            await streaming.value
            await waitForResults(within: .seconds(10))
            afterKill = checker.tally { tag, sender, recipient in tag > tagAtKill && self.isLANPair(sender, recipient) }
            let down = killed.duration(to: .now)
            if let newLeader {
                failures.append("UNEXPECTED: s2 and s3 elected \(name(newLeader.leader)) without s1 after \(format(leaderAfterKill!)): they found a path to each other behind a symmetric NAT")
            }
            if afterKill.committed > 0 {
                failures.append("\(afterKill.committed) LAN2↔LAN3 sends were committed while s1 was down, without a quorum")
            }
            symmetricStatement = "\(label): after s1 was killed, "
                + (newLeader == nil
                    ? "s2 and s3 had no path to each other: no quorum, no leader for \(format(down)) (\(s2Status); \(s3Status)); "
                    : "s2 and s3 elected a leader (\(s2Status); \(s3Status)); ")
                + "of \(afterKill.sent) LAN2↔LAN3 sends made while s1 was down \(afterKill.committed) were committed, "
                + "\(afterKill.pending) stayed pending (in the senders' outboxes) and \(afterKill.failed) were refused"
        } else {
            if let leaderAfterKill {
                if leaderAfterKill > .seconds(5) { failures.append("s2 and s3 took \(format(leaderAfterKill)) to elect a leader (more than 5 s)") }
            } else {
                failures.append("s2 and s3 elected no leader within 15 s of s1's death (\(await ServerNATAdmin.ownStatusLine(of: s2, names: names)); "
                    + "\(await ServerNATAdmin.ownStatusLine(of: s3, names: names)))")
            }
            // Keep streaming through s2 and s3 alone, over their punched link.
            try await Task.sleep(for: .seconds(4))
            if case .success(let status) = await ServerNATAdmin.ownStatus(of: s2), let s3ID = s3.nodeID {
                pairAfterKill = status.links.first { "\($0.peer)" == s3ID }?.kind.rawValue ?? "none"
            }
            if pairAfterKill != pairLabel {
                failures.append("s2's link to s3 is \(pairAfterKill) after s1's death, not \(pairLabel): "
                    + (await ServerNATAdmin.ownStatusLine(of: s2, names: names)))
            }
            try await Task.sleep(for: .seconds(4))
            stopping.withLock { $0 = true }
            await streaming.value
            await waitForResults(within: .seconds(10))
            // Sends made once s2 and s3 had their leader.
            afterKill = checker.tally { tag, sender, recipient in tag > tagAtLeader && self.isLANPair(sender, recipient) }
            if newLeader != nil, afterKill.committed == 0 {
                failures.append("no LAN2↔LAN3 send was committed after s2 and s3 elected a leader (\(afterKill))")
            }
            if afterKill.failed > 0 { failures.append("\(afterKill.failed) LAN2↔LAN3 sends were refused after the new leader came") }
        }

        // 6. Restart s1: all three agree on a leader again (s1 says so in a line of its new life).
        let restarted = ContinuousClock.now
        let linesBeforeRestart = cluster.log.all.count
        try cluster.start(s1)
        let serverNames = cluster.names
        let rejoined: Duration?
        do {
            try await cluster.log.wait(for: "s1, s2 and s3 to agree on a leader after s1's restart", timeout: .seconds(30)) { lines -> (leader: String, term: Int)? in
                guard lines.dropFirst(linesBeforeRestart).contains(where: { $0.hasPrefix("[s1]") && $0.contains("leader changed") }) else { return nil }
                return ClusterLog.agreedLeader(lines, servers: serverNames)
            }
            rejoined = restarted.duration(to: .now)
        } catch {
            rejoined = nil
            failures.append("no leader agreed by s1, s2 and s3 within 30 s of s1's restart: "
                + (await cluster.servers.asyncMap { await ServerNATAdmin.ownStatusLine(of: $0, names: self.names) }).joined(separator: "; "))
        }

        // 7. Drain, then check every delivery.
        let drained = await drain(within: .seconds(40))
        await withTaskGroup(of: Void.self) { group in
            for handle in handles { group.addTask { await handle.stop() } }
        }
        failures += handles.flatMap(\.unexpectedExits)
        let report = checker.verify()
        failures += report.violations.prefix(20)
        if report.violations.count > 20 { failures.append("… and \(report.violations.count - 20) more violations") }
        if !drained { failures.append("\(checker.undelivered) accepted messages still undelivered 40 s after the drain began") }

        // The WAN client reaches s1 only: its sends are refused while s1 is down. Anyone else's
        // refusals are worth a look (for cone they already failed the run above).
        let wanRefused = checker.tally { _, sender, _ in sender == 0 }.failed
        let refusedNote = report.failed == 0 ? "" : report.failed == wanRefused
            ? " (all by the WAN client, which reaches only s1, while s1 was down)" : " (\(wanRefused) by the WAN client)"
        let passed = failures.isEmpty
        if symmetric {
            print(symmetricStatement + "; after s1 restarted, " + (rejoined.map { "a leader came back in \(format($0)) and " } ?? "no leader came back, and ")
                + (report.lost == 0 && report.duplicated == 0 && report.reordered == 0 && report.unknown == 0
                    ? "every accepted message (\(report.accepted)) was delivered exactly once, in order"
                    : "deliveries broke: lost=\(report.lost) duplicated=\(report.duplicated) reordered=\(report.reordered)"))
        }
        print("\(label) s2↔s3=\(pairKind) bootstrap=\(format(bootstrap)) links-agreed=\(format(linksAgreed)) "
            + "leader-after-kill=\(leaderAfterKill.map(format) ?? "none") " + (symmetric ? "" : "s2↔s3-after-kill=\(pairAfterKill) ")
            + "lan-after-kill=ok:\(afterKill.ok),stored:\(afterKill.stored),pending:\(afterKill.pending),refused:\(afterKill.failed) "
            + "s1-restart-to-leader=\(rejoined.map(format) ?? "none") sent=\(report.sent) accepted=\(report.accepted) "
            + "(ok=\(report.ok) stored=\(report.stored) pending=\(report.pending)) refused=\(report.failed)\(refusedNote) received=\(report.delivered) "
            + "lost=\(report.lost) duplicated=\(report.duplicated) reordered=\(report.reordered) corrupted=\(report.corrupted) "
            + "result=\(passed ? "PASS" : "FAIL")")
        for failure in failures { print("  failure: \(failure)") }
        if !report.failures.isEmpty { print("  refusals: \(report.failures.sorted { $0.key < $1.key }.map { "\($0.key)…: \($0.value)" }.joined(separator: "; "))") }
        return passed
    }
}
