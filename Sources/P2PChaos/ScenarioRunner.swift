import AdminProtocol
import ClusterHarness
import Foundation
import P2PCore
import Synchronization

/// Runs the workload and the fault schedule against one local cluster, then checks.
final class ScenarioRunner: Sendable {
    let seed: UInt64
    let cluster: LocalCluster
    let handles: [ClientHandle]
    let checker: DeliveryChecker
    let chaosBinary: String
    let verbose: Bool
    private let faults = Mutex<[String: Int]>([:])
    /// Servers currently killed, paused or being wiped (the schedule impairs one at a time).
    private let impaired = Mutex<Set<Int>>([])
    private let stopping = Mutex(false)

    struct Summary {
        let line: String
        let passed: Bool
        let violations: [String]
    }

    private init(seed: UInt64, cluster: LocalCluster, handles: [ClientHandle], checker: DeliveryChecker, chaosBinary: String, verbose: Bool) {
        self.seed = seed
        self.cluster = cluster
        self.handles = handles
        self.checker = checker
        self.chaosBinary = chaosBinary
        self.verbose = verbose
    }

    static func start(
        seed: UInt64, servers: Int, clients: Int, network: ServerNetwork?, serverBinary: String, chaosBinary: String, verbose: Bool
    ) async throws -> ScenarioRunner {
        let cluster = try await LocalCluster.start(size: servers, binary: serverBinary, network: network)
        let handles = (0..<clients).map { ClientHandle(index: $0, stateDirectory: "\(cluster.root)/c\($0)") }
        // The checker needs every id before lines arrive: start each client once to learn it.
        var ids: [NodeID] = []
        for handle in handles {
            ids.append(try await handle.start(binary: chaosBinary, servers: cluster.addresses, secret: cluster.secret, onLine: { _ in }))
            await handle.stop()
        }
        let checker = DeliveryChecker(ids: ids)
        let runner = ScenarioRunner(seed: seed, cluster: cluster, handles: handles, checker: checker, chaosBinary: chaosBinary, verbose: verbose)
        for handle in handles { _ = try await runner.startClient(handle) }
        return runner
    }

    private func startClient(_ handle: ClientHandle) async throws -> NodeID {
        let checker = self.checker
        let index = handle.index
        return try await handle.start(binary: chaosBinary, servers: cluster.addresses, secret: cluster.secret) { line in
            checker.handle(line, from: index)
        }
    }

    func run(for duration: Duration, faultEvery: Double) async -> Summary {
        let workload = Task { await self.workload() }
        var random = SplitMix64(seed: seed)
        let deadline = ContinuousClock.now + duration
        var problems: [String] = []
        while ContinuousClock.now < deadline {
            let pause = faultEvery + Double(random.next() % 1000) / 1000 * faultEvery
            try? await Task.sleep(for: .milliseconds(Int(pause * 1000)))
            guard ContinuousClock.now < deadline else { break }
            do {
                try await injectFault(&random)
            } catch {
                problems.append("fault failed: \(error)")
                if verbose { print("fault failed: \(error)") }
            }
        }
        stopping.withLock { $0 = true }
        await workload.value
        let settled = await settle()
        let report = checker.verify()
        // Faults that could not be injected (e.g. a transfer refused mid-election) are notes,
        // not violations: the guarantees are about deliveries and replicas.
        var violations = report.violations + settled
        let faultCounts = faults.withLock { $0 }
        let totalFaults = faultCounts.values.reduce(0, +)
        let digest = await compareDigests()
        if let digest { violations.append(digest) }
        let drained = await mailboxesDrained()
        if let drained { violations.append(drained) }
        for handle in handles { await handle.stop() }
        // First: a client that died explains the losses listed after it.
        violations = handles.flatMap(\.unexpectedExits) + violations
        let passed = violations.isEmpty
        let paths = checker.deliveryPaths
        if passed || ProcessInfo.processInfo.environment["P2PCORE_CHAOS_KEEP"] == nil {
            cluster.stop()
        } else {
            for server in cluster.servers { server.stop() }
            cluster.network?.tearDown()
            print("kept the data and client logs in \(cluster.root)")
        }
        let kinds = faultCounts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let line = "scenario seed=\(seed) servers=\(cluster.servers.count) clients=\(handles.count) sent=\(report.sent) accepted=\(report.accepted)"
            + " ok=\(report.ok) stored=\(report.stored) pending=\(report.pending) refused=\(report.failed) delivered=\(report.delivered)"
            + " acknowledged=direct:\(paths.direct),relay:\(paths.relayed)"
            + " lost=\(report.lost) duplicated=\(report.duplicated) reordered=\(report.reordered) corrupted=\(report.corrupted) unknown=\(report.unknown)"
            + " faults=\(totalFaults) (\(kinds)) digests=\(digest == nil ? "identical" : "DIFFER") mailboxes=\(drained == nil ? "drained" : "NOT-DRAINED")"
            + " result=\(passed ? "PASS" : "FAIL")"
        if verbose, !report.failures.isEmpty { print("refusals: \(report.failures)") }
        if verbose { for problem in problems { print("note: \(problem)") } }
        return Summary(line: line, passed: passed, violations: violations)
    }

    // MARK: Workload

    private func workload() async {
        var random = SplitMix64(seed: seed ^ 0x5EED_0F_C0FFEE)
        var tag: UInt64 = 0
        while !stopping.withLock({ $0 }) {
            try? await Task.sleep(for: .milliseconds(10 + Int(random.next() % 30)))
            let senders = handles.filter { $0.isOnline && checker.outstanding(from: $0.index) < 8 }
            guard let sender = senders.randomElement(using: &random) else { continue }
            var recipient = Int(random.next() % UInt64(handles.count))
            if recipient == sender.index { recipient = (recipient + 1) % handles.count }
            // Sizes spread over 1 byte … 64 KiB, small ones most often.
            let exponent = Double(random.next() % 1000) / 1000 * 16
            let size = max(1, min(65_536, Int(pow(2, exponent))))
            tag += 1
            checker.willSend(tag: tag, from: sender.index, to: recipient, size: size)
            sender.send(tag: tag, to: checker.ids[recipient], size: size, timeoutMillis: 5_000)
        }
    }

    // MARK: Faults

    private func count(_ kind: String) {
        faults.withLock { $0[kind, default: 0] += 1 }
        if verbose { print("fault: \(kind)") }
    }

    private func injectFault(_ random: inout SplitMix64) async throws {
        let roll = random.next() % 100
        switch roll {
        case 0..<25: try await killServer(&random)
        case 25..<45:
            if cluster.network != nil, random.next() % 2 == 0 { try await partitionServers(&random) } else { try await pauseServer(&random) }
        case 45..<60: try await restartClient(&random, offlineFor: 0)
        case 60..<75: try await restartClient(&random, offlineFor: 3 + Double(random.next() % 8))
        case 75..<92: try await transferLeadership()
        default: try await wipeServer(&random)
        }
    }

    private func address(_ server: ServerProcess) -> HostPort { HostPort(host: server.host, port: server.port) }

    /// Asks any healthy server.
    private func admin(_ request: AdminRequest, avoiding excluded: Set<Int> = []) async throws -> AdminResponse {
        var lastError: any Error = AdminFailure(.unavailable, "no server to ask")
        for (index, server) in cluster.servers.enumerated() where !excluded.contains(index) && !impaired.withLock({ $0.contains(index) }) {
            do {
                let client = try await AdminClient.connect(to: address(server), adminSecret: cluster.adminSecret, timeout: .seconds(3))
                defer { client.close() }
                let response = try await client.request(request, timeout: .seconds(20))
                if case .failed(let failure) = response { throw failure }
                return response
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private func leaderIndex() async -> Int? {
        guard case .status(let status)? = try? await admin(.status), let leader = status.leader else { return nil }
        return cluster.servers.firstIndex { $0.nodeID == "\(leader)" }
    }

    private func killServer(_ random: inout SplitMix64) async throws {
        let leader = random.next() % 2 == 0 ? await leaderIndex() : nil
        let target = leader ?? Int(random.next() % UInt64(cluster.servers.count))
        let server = cluster.servers[target]
        impaired.withLock { _ = $0.insert(target) }
        defer { impaired.withLock { _ = $0.remove(target) } }
        server.kill(signal: SIGKILL)
        count(leader != nil ? "kill-leader" : "kill")
        try await Task.sleep(for: .milliseconds(1000 + Int(random.next() % 3000)))
        try cluster.start(server)
    }

    private func pauseServer(_ random: inout SplitMix64) async throws {
        let target = Int(random.next() % UInt64(cluster.servers.count))
        let server = cluster.servers[target]
        impaired.withLock { _ = $0.insert(target) }
        defer { impaired.withLock { _ = $0.remove(target) } }
        server.signal(SIGSTOP)
        count("pause")
        try? await Task.sleep(for: .milliseconds(1000 + Int(random.next() % 2000)))
        server.signal(SIGCONT)
    }

    /// Cuts one server off from the others, or two servers from each other, for a few seconds
    /// (clients still reach every server).
    private func partitionServers(_ random: inout SplitMix64) async throws {
        guard let network = cluster.network else { return }
        let size = cluster.servers.count
        let target = Int(random.next() % UInt64(size))
        let pairs: [(Int, Int)]
        if random.next() % 2 == 0 {
            pairs = (0..<size).filter { $0 != target }.map { (target, $0) }
            count("isolate")
        } else {
            pairs = [(target, (target + 1 + Int(random.next() % UInt64(size - 1))) % size)]
            count("partition-pair")
        }
        for (a, b) in pairs {
            do {
                try network.partition(a, b)
            } catch {
                for (a, b) in pairs { network.heal(a, b) }
                throw error
            }
        }
        try? await Task.sleep(for: .milliseconds(2000 + Int(random.next() % 3000)))
        for (a, b) in pairs { network.heal(a, b) }
    }

    private func restartClient(_ random: inout SplitMix64, offlineFor seconds: Double) async throws {
        let handle = handles[Int(random.next() % UInt64(handles.count))]
        handle.markOffline()
        // Its own sends finish first (each has a deadline), so none ends as "client stopped".
        for _ in 0..<200 where checker.outstanding(from: handle.index) > 0 {
            try await Task.sleep(for: .milliseconds(50))
        }
        await handle.stop()
        count(seconds > 0 ? "client-offline" : "client-restart")
        if seconds > 0 { try await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }
        _ = try await startClient(handle)
    }

    private func transferLeadership() async throws {
        _ = try await admin(.transferLeadership(target: nil))
        count("transfer")
    }

    /// Kills a follower, removes it from the cluster, wipes its data directory and starts it
    /// again: it joins as a new member with a new id.
    private func wipeServer(_ random: inout SplitMix64) async throws {
        // Only a cluster whose every server votes loses nothing by losing one server's disk (an
        // operator would not wipe one while another is still catching up).
        guard await everyServerVotes() else {
            throw AdminFailure(.unavailable, "wipe skipped: not every server is a voter yet")
        }
        let leader = await leaderIndex()
        let candidates = cluster.servers.indices.filter { $0 != leader }
        let target = candidates[Int(random.next() % UInt64(candidates.count))]
        let server = cluster.servers[target]
        guard let oldID = server.nodeID.flatMap(NodeID.init(uuidString:)) else { return }
        impaired.withLock { _ = $0.insert(target) }
        defer { impaired.withLock { _ = $0.remove(target) } }
        server.kill(signal: SIGKILL)
        count("wipe")
        var removed = false
        for _ in 0..<20 where !removed {
            do {
                _ = try await admin(.removeServer(oldID))
                removed = true
            } catch {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        guard removed else {
            // Wiping a server the cluster still counts as a voter would leave a voter that never
            // comes back: the server returns with its data instead.
            try cluster.start(server)
            throw AdminFailure(.unavailable, "wipe skipped: the server could not be removed first")
        }
        try FileManager.default.removeItem(atPath: server.dataDirectory)
        try cluster.start(server)
        // The next fault waits until the new member votes (else one more fault could cost quorum).
        for _ in 0..<120 {
            if await everyServerVotes() { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw AdminFailure(.unavailable, "the wiped server did not become a voter again within 60 s")
    }

    private func everyServerVotes() async -> Bool {
        guard case .status(let status)? = try? await admin(.status) else { return false }
        return status.servers.count == cluster.servers.count && status.servers.allSatisfy { $0.voter && $0.reachable }
    }

    // MARK: Settling and checks

    /// Every client back online and every accepted message delivered (or the time is up).
    private func settle() async -> [String] {
        for handle in handles where !handle.isOnline {
            _ = try? await startClient(handle)
        }
        for _ in 0..<600 where handles.contains(where: { checker.outstanding(from: $0.index) > 0 }) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for _ in 0..<1800 where checker.undelivered > 0 {
            try? await Task.sleep(for: .milliseconds(100))
        }
        return []
    }

    /// `nil` when every server applied the same state.
    private func compareDigests() async -> String? {
        var last: [String] = []
        for _ in 0..<60 {
            var digests: [(UInt64, String)] = []
            for server in cluster.servers {
                guard let client = try? await AdminClient.connect(to: address(server), adminSecret: cluster.adminSecret, timeout: .seconds(3)) else { break }
                defer { client.close() }
                if case .digest(let index, let sha)? = try? await client.request(.digest, timeout: .seconds(10)) {
                    digests.append((index, sha))
                }
            }
            last = digests.map { "\($0.0):\($0.1.prefix(12))" }
            if digests.count == cluster.servers.count, Set(digests.map(\.0)).count == 1 {
                return Set(digests.map(\.1)).count == 1 ? nil : "replicas applied index \(digests[0].0) with different states: \(last)"
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
        return "replicas did not converge on one applied index: \(last)"
    }

    /// `nil` when no mailbox holds a message.
    private func mailboxesDrained() async -> String? {
        guard case .clients(let clients)? = try? await admin(.clients) else { return "could not list the clients" }
        let full = clients.filter { $0.mailboxMessages > 0 }
        return full.isEmpty ? nil : "mailboxes not drained: " + full.map { "\($0.id): \($0.mailboxMessages)" }.joined(separator: ", ")
    }
}
