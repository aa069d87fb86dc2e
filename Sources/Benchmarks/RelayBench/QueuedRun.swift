import ClusterHarness
import Foundation
import P2PCore
import SimulatedClients
import Synchronization

/// One `queued` measurement: fill offline mailboxes, then restart a server, add a server under
/// load, and drain (see ``QueuedCommand``). Every wait has a deadline: a step that does not
/// finish is reported as such and the run goes on or stops cleanly.
struct QueuedRun {
    let options: QueuedCommand.Settings

    /// What the run measured (`nil`: that step did not complete in time).
    struct Result: Sendable {
        var fill: QueuedFill.Result?
        var restarted = ""
        var restartWelcome: Duration?
        var restartCommit: Duration?
        var restartReady: Duration?
        var added = ""
        var addCaughtUp: Duration?
        var addProblem: String?
        var concurrent: SteadySender.Result?
        var drainExpected = 0
        var drained = 0
        var drain: Duration?
        var peakRSS: [String: Int] = [:]
        var peakAnonymousRSS: [String: Int] = [:]
        /// With a memory limit: the most each server's cgroup was charged, in bytes.
        var peakCharged: [String: Int] = [:]
        var rssAfter: [(phase: String, kib: [String: Int])] = []
    }

    func run() async throws -> Result {
        var result = Result()
        let monitorPorts = options.monitor ? try await ServerProcess.freePorts(4) : []
        let cluster = try await LocalCluster.start(size: 3, binary: options.binary) { index in
            index < monitorPorts.count ? ["--monitor", "127.0.0.1:\(monitorPorts[index])"] : []
        }
        defer { cluster.stop() }
        let cgroup = try options.memoryLimitMiB.map { try MemoryCgroup(limitBytes: $0 << 20) }
        func confine(_ server: ServerProcess) throws {
            guard let cgroup, let pid = server.processID else { return }
            try cgroup.confine(pid, name: server.name)
        }
        for server in cluster.servers { try confine(server) }
        if let cgroup { print("each server runs in a memory cgroup limited to \(cgroup.limitBytes >> 20) MiB") }
        let servers = Mutex<[ServerProcess]>(cluster.servers)
        let sampler = PeakMemorySampler()
        sampler.start { servers.withLock { list in list.map { ($0.name, $0.processID) } } }
        defer { sampler.stop() }
        func snapshotRSS(_ phase: String) {
            let kib = servers.withLock { list in
                Dictionary(uniqueKeysWithValues: list.map {
                    ($0.name, (ProcessStats.residentKiB($0.processID) ?? 0, ProcessStats.anonymousKiB($0.processID) ?? 0))
                })
            }
            result.rssAfter.append((phase, kib.mapValues(\.0)))
            print("  RSS (anonymous) after \(phase): "
                  + kib.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.0 / 1024) (\($0.value.1 / 1024)) MiB" }.joined(separator: ", "))
        }

        var configuration = FleetConfiguration(
            servers: cluster.addresses, secret: cluster.secret, clusterKey: ClusterKey(serverSecret: cluster.secrets.server).publicKeyBytes
        )
        configuration.observeUDP = false
        let recipients = SimulatedFleet(count: options.recipients, configuration: configuration)
        let senders = SimulatedFleet(count: options.senders, firstIndex: options.recipients, configuration: configuration)
        defer {
            recipients.stop()
            senders.stop()
        }
        let clock = ContinuousClock()

        // The recipients register (attach once), then go offline.
        print("registering \(options.recipients) recipients, then taking them offline")
        recipients.start()
        guard await recipients.waitUntilAttached(count: options.recipients, timeout: options.timeout) != nil else {
            throw QueuedCommand.Failure("the recipients did not all attach within \(options.timeout)")
        }
        recipients.stop()
        _ = await recipients.waitUntil(timeout: .seconds(30)) { $0.allSatisfy { $0 == 0 } }
        senders.start()
        guard await senders.waitUntilAttached(count: options.senders, timeout: options.timeout) != nil else {
            throw QueuedCommand.Failure("the senders did not all attach within \(options.timeout)")
        }

        // Fill.
        print("fill: \(options.messages) messages of \(options.size) bytes from \(options.senders) senders (\(options.window) in flight each)")
        let payload = [UInt8](repeating: 0x51, count: options.size)
        let fill = QueuedFill(
            senders: senders.clients, recipients: recipients.clients.map(\.id), messages: options.messages, payload: payload,
            window: options.window, timeout: options.timeout
        )
        let filled = await fill.run { stored in print("  stored \(stored)") }
        result.fill = filled
        print(String(format: "  stored %d in %.1f s (%.0f/s), %d retries, %d refused", filled.stored, filled.elapsed.milliseconds / 1000,
                     Double(filled.stored) / max(filled.elapsed.milliseconds / 1000, 0.001), filled.retries, filled.refused)
              + (filled.timedOut ? " — TIMED OUT" : ""))
        if let refusal = filled.firstRefusal { print("  first refusal: \(refusal)") }
        snapshotRSS("fill")
        result.drainExpected = filled.stored

        // (a) kill -9 a follower and restart it.
        let leader = try await cluster.agreedLeader(timeout: .seconds(30)).server
        if let victimIndex = cluster.servers.firstIndex(where: { $0 !== leader }) {
            let victim = cluster.servers[victimIndex]
            result.restarted = victim.name
            print("restart: kill -9 \(victim.name) (a follower), restart it")
            victim.kill(signal: SIGKILL)
            let restartedAt = clock.now
            try cluster.start(victim)
            try confine(victim)
            let probe = try await QueuedProbe.serve(
                server: victim, configuration: configuration, firstIndex: options.recipients + options.senders,
                recipient: recipients.clients[0].id, monitorPort: monitorPorts.isEmpty ? nil : monitorPorts[victimIndex],
                since: restartedAt, timeout: options.timeout
            )
            (result.restartWelcome, result.restartCommit, result.restartReady) = (probe.welcome, probe.commit, probe.ready)
            if probe.commit != nil { result.drainExpected += 1 }
            print("  welcomed a client after \(ScaleRun.seconds(probe.welcome)), a send through it committed after \(ScaleRun.seconds(probe.commit))"
                  + (monitorPorts.isEmpty ? "" : ", /readyz 200 after \(ScaleRun.seconds(probe.ready))"))
            snapshotRSS("restart")
        }

        // (b) a new server joins while a sender keeps sending.
        if options.addServer {
            let added = try await QueuedJoin.run(
                cluster: cluster, senders: senders.clients, recipients: recipients.clients, rate: options.rate, payload: payload,
                timeout: options.catchUpTimeout, started: confine
            )
            servers.withLock { $0 = cluster.servers }
            result.added = added.name
            result.addCaughtUp = added.caughtUp
            result.addProblem = added.problem
            result.concurrent = added.sends
            result.drainExpected += added.sends.delivered + added.sends.storedOnly
            snapshotRSS("join")
        }

        // (c) the recipients come back.
        print("drain: \(options.recipients) recipients come back, \(result.drainExpected) messages waiting")
        senders.stop()
        let drainStart = clock.now
        recipients.start()
        var lastPrint = clock.now
        while clock.now - drainStart < options.timeout {
            let delivered = recipients.counters.delivered.load(ordering: .relaxed)
            if delivered >= result.drainExpected {
                result.drain = clock.now - drainStart
                break
            }
            if clock.now - lastPrint >= .seconds(5) {
                lastPrint = clock.now
                print("  delivered \(delivered)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        result.drained = recipients.counters.delivered.load(ordering: .relaxed)
        print("  delivered \(result.drained) of \(result.drainExpected) in \(ScaleRun.seconds(result.drain ?? (clock.now - drainStart)))"
              + (result.drain == nil ? " — TIMED OUT" : "") + ", \(recipients.counters.duplicates.load(ordering: .relaxed)) duplicates recognised")
        snapshotRSS("drain")
        for (index, server) in cluster.servers.enumerated() where index < monitorPorts.count {
            let scraped = ReadinessProbe.metrics(
                port: monitorPorts[index], ["p2pcore_pushed_messages_total", "p2pcore_push_restarts_total"], secret: cluster.secrets.admin
            )
            let pushed = scraped?["p2pcore_pushed_messages_total"]
            let restarts = (scraped ?? [:]).filter { $0.key.hasPrefix("p2pcore_push_restarts_total") }
            print("  \(server.name): \(pushed.map { String(Int($0)) } ?? "?") pushes, start-overs "
                  + restarts.sorted { $0.key < $1.key }.map { "\($0.key.drop { $0 != "\"" }.dropFirst().prefix { $0 != "\"" }) \(Int($0.value))" }.joined(separator: ", "))
        }
        sampler.stop()
        result.peakRSS = sampler.peakKiB
        result.peakAnonymousRSS = sampler.peakAnonymousKiB
        if let cgroup {
            for server in cluster.servers { result.peakCharged[server.name] = cgroup.peakBytes(server.name) }
            cluster.stop()
            cgroup.remove(cluster.servers.map(\.name))
        }
        return result
    }
}
