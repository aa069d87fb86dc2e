import AdminProtocol
import ArgumentParser
import ClusterHarness
import Foundation
import P2PCore
import Synchronization

extension ServerNATRun {
    // MARK: Steps

    /// Polls every server's status until all agree (healthy, one leader, the same links) and
    /// the links are `expected`; returns the last views and, if that never happened, why.
    func agreedViews(expected: [String: String], within timeout: Duration) async -> ([ServerNATView], String?) {
        let deadline = ContinuousClock.now + timeout
        var problem = "no status asked"
        var views: [ServerNATView] = []
        while true {
            views = []
            var missing: [String] = []
            for server in cluster.servers {
                switch await ServerNATAdmin.status(of: server, mailboxAdmin: mailboxAdmin, names: names) {
                case .success(let view): views.append(view)
                case .failure(let why): missing.append(why.description)
                }
            }
            if !missing.isEmpty {
                problem = "not every server answered `mailbox-admin status --json`: \(missing.joined(separator: "; "))"
            } else if let sick = views.first(where: { !$0.healthy }) {
                problem = "\(sick.askedServer) reports the cluster unhealthy: \(sick.problems.joined(separator: "; "))"
            } else if Set(views.map { $0.leader ?? "none" }).count != 1 {
                problem = "the servers disagree on the leader: \(views.map { "\($0.askedServer): \($0.leader ?? "none")" }.joined(separator: ", "))"
            } else if let wrong = views.first(where: { $0.links.filter { expected[$0.key] != nil } != expected }) {
                let differing = expected.keys.sorted().filter { wrong.links[$0] != expected[$0] }
                    .map { "\($0) is \(wrong.links[$0] ?? "not reported")\(wrong.reasons[$0].map { " (\($0))" } ?? ""), expected \(expected[$0]!)" }
                problem = "server links not as expected in \(wrong.askedServer)'s status: \(differing.joined(separator: "; "))"
            } else {
                return (views, nil)
            }
            guard ContinuousClock.now < deadline else { return (views, "after \(format(timeout)): \(problem)") }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func startClients() async throws {
        let seats: [(namespace: String, lan: String)] = [
            (topology.serverNamespaces[1], "WAN"),
            (topology.clientNamespace(lan: 0, index: 1), "LAN2"), (topology.clientNamespace(lan: 0, index: 2), "LAN2"),
            (topology.clientNamespace(lan: 1, index: 1), "LAN3"), (topology.clientNamespace(lan: 1, index: 2), "LAN3"),
        ]
        let cluster = self.cluster
        // The checker needs every id; no line but `ready` comes before the first send, which
        // goes out once the checker exists.
        let lines = CheckerSink()
        var ids: [NodeID] = []
        for (index, seat) in seats.enumerated() {
            let handle = ClientHandle(
                index: index, stateDirectory: "\(cluster.root)/\(clientNames[index])", namespace: seat.namespace, directTunnels: false
            )
            parts.withLock { $0.handles.append(handle) }
            do {
                ids.append(try await handle.start(
                    binary: CommandLine.arguments[0], servers: cluster.addresses, secret: cluster.secret,
                    onLine: { line in lines.handle(line, from: index) }
                ))
            } catch {
                throw ValidationError("client \(clientNames[index]) (\(seat.lan)) did not start: \(error); see \(handle.stateDirectory).log")
            }
        }
        let checker = DeliveryChecker(ids: ids)
        lines.set(checker)
        parts.withLock { $0.checker = checker }
    }

    /// Makes `server` the leader (transfer through its own admin socket) unless it is already.
    func makeLeader(_ server: ServerProcess) async -> String? {
        guard let id = server.nodeID.flatMap(NodeID.init(uuidString:)) else { return "no node id" }
        if ClusterLog.agreedLeader(cluster.log.all, servers: cluster.names)?.leader == "\(id)" { return nil }
        if let problem = await ServerNATAdmin.transferLeadership(at: server, to: id) { return problem }
        let serverID = "\(id)"
        let names = cluster.names
        do {
            try await cluster.log.wait(for: "every server to follow \(server.name)", timeout: .seconds(15)) { lines in
                ClusterLog.agreedLeader(lines, servers: names).flatMap { $0.leader == serverID ? true : nil }
            }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The streams, each at `rate` messages per second with at most 32 results outstanding per
    /// sender, until `stopping`.
    func stream(rate: Int) async {
        let checker = self.checker
        let handles = self.handles
        await withDiscardingTaskGroup { group in
            for (sender, recipient) in streams {
                group.addTask {
                    let interval = Duration.milliseconds(max(1, 1000 / rate))
                    var next = ContinuousClock.now
                    while !self.stopping.withLock({ $0 }) {
                        next = max(next + interval, .now - interval)
                        try? await Task.sleep(until: next)
                        guard checker.outstanding(from: sender) < 32 else { continue }
                        let tag = self.lastTag.withLock { tag in
                            tag += 1
                            return tag
                        }
                        let size = 32 + Int(tag % 480)
                        checker.willSend(tag: tag, from: sender, to: recipient, size: size)
                        handles[sender].send(tag: tag, to: checker.ids[recipient], size: size, timeoutMillis: 5_000)
                    }
                }
            }
        }
    }

    /// Waits until every send reported its result (or `timeout` passed).
    func waitForResults(within timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while handles.contains(where: { checker.outstanding(from: $0.index) > 0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits until every send has a result and every accepted message arrived; false if the
    /// time ran out first.
    func drain(within timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        await waitForResults(within: timeout)
        while checker.undelivered > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        return checker.undelivered == 0
    }

    // MARK: Helpers

    /// Sender and recipient in different LANs (LAN2 = clients 1-2, LAN3 = clients 3-4).
    func isLANPair(_ sender: Int, _ recipient: Int) -> Bool {
        let lan = { (client: Int) in client == 0 ? 0 : (client <= 2 ? 2 : 3) }
        return lan(sender) != 0 && lan(recipient) != 0 && lan(sender) != lan(recipient)
    }

    /// Server ids → names (s1, s2, s3).
    var names: [NodeID: String] {
        var names: [NodeID: String] = [:]
        for server in parts.withLock({ $0.cluster?.servers ?? [] }) {
            if let id = server.nodeID.flatMap(NodeID.init(uuidString:)) { names[id] = server.name }
        }
        return names
    }

    func name(_ id: String) -> String {
        NodeID(uuidString: id).flatMap { names[$0] } ?? id
    }

    /// The last notices, warnings and errors of each server (e.g. "waiting for peers …
    /// answered=1/2"), for a failure message.
    func printLogTail() {
        let lines = cluster.log.all
        for server in cluster.names {
            let telling = lines.filter { line in
                line.hasPrefix("[\(server)]") && [" notice ", " warning ", " error ", " critical "].contains { line.contains($0) }
            }
            for line in telling.suffix(2) { print("  \(line.prefix(400))") }
        }
    }
}
