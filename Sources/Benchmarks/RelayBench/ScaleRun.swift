import ClusterHarness
import Foundation
import P2PCore
import SimulatedClients

/// One `scale` measurement: a fresh 3-server cluster and `clients` simulated clients.
struct ScaleRun {
    let clients: Int
    let rate: Double
    let sendSeconds: Int
    let idleSeconds: Int
    let attachTimeout: Duration
    let restartLeader: Bool
    let payloadSize: Int
    let observeUDP: Bool
    let flatObservation: Bool
    let maximumAttachedServers: Int
    let settleSeconds: Int
    let pauseForProfiling: Bool
    let clientsPerWorker: Int
    let binary: String

    /// What one run measured (`nil`: that step did not complete in time).
    struct Result: Sendable {
        var clients = 0
        var workers = 0
        var serverNames: [String] = []
        var coldAttach: Duration?
        var attachedAtTimeout: [Int] = []
        var restarted = ""
        var restartAttach: Duration?
        var attachedAfterRestart = 0
        /// RSS in KiB before any client, and with all attached (after the cold start).
        var idleRSS: [Int] = []
        var loadedRSS: [Int] = []
        var attachedPerServer: [Int] = []
        /// Clients that prefer each server (attach to it while all are up).
        var expectedPerServer: [Int] = []
        var idleCPU: [Double] = []
        var benchCPU = 0.0
        var benchRSS = 0
        var observations = 0
        var unansweredObservations = 0
        var failedAttempts = 0
        var throughput: SteadySender.Result?
        var rate = 0.0
        var notes: [String] = []

        /// KiB of RSS per attached client on each server.
        var perClientKiB: [Double] {
            zip(zip(loadedRSS, idleRSS), attachedPerServer).map { rss, attached in
                attached > 0 ? Double(rss.0 - rss.1) / Double(attached) : .nan
            }
        }
    }

    func run() async throws -> Result {
        var result = Result()
        result.clients = clients
        result.rate = rate
        let cluster = try await LocalCluster.start(size: 3, binary: binary)
        defer { cluster.stop() }
        result.serverNames = cluster.names
        let clock = ContinuousClock()
        try await Task.sleep(for: .seconds(3))
        result.idleRSS = cluster.servers.map { ProcessStats.residentKiB($0.processID) ?? 0 }

        var configuration = FleetConfiguration(
            servers: cluster.addresses, secret: cluster.secret, clusterKey: ClusterKey(serverSecret: cluster.secrets.server).publicKeyBytes
        )
        configuration.observeUDP = observeUDP
        configuration.observationPace = flatObservation ? .every(.seconds(5)) : .schedule
        configuration.maximumAttachedServers = maximumAttachedServers
        let seed = UInt64.random(in: 0...UInt64.max)
        let expected = Self.expectedAttachments(clients: clients, seed: seed, configuration: configuration)
        result.expectedPerServer = expected
        let pool = try await WorkerPool.start(total: clients, perWorker: clientsPerWorker, seed: seed, configuration: configuration, payloadSize: payloadSize)
        defer { pool.stop() }
        result.workers = pool.workers.count

        // Cold start: every client at once.
        print("cold start: \(clients) clients (in \(pool.workers.count) worker processes) dial their \(maximumAttachedServers) of 3 servers (expected \(expected))")
        pool.broadcast("start")
        result.coldAttach = await pool.waitUntil(timeout: attachTimeout, progress: { counts in
            print("  attached: \(counts.map(String.init).joined(separator: " / "))")
        }) { zip($0, expected).allSatisfy { $0 >= $1 } }
        result.attachedAtTimeout = pool.attached
        result.failedAttempts = pool.counter(.failedAttempts)
        print("  all attached after \(Self.seconds(result.coldAttach)) (attached \(result.attachedAtTimeout), failed dials \(result.failedAttempts))")

        try await Task.sleep(for: .seconds(max(settleSeconds, 5)))
        result.attachedPerServer = pool.attached
        result.loadedRSS = cluster.servers.map { ProcessStats.residentKiB($0.processID) ?? 0 }
        result.benchRSS = pool.workers.reduce(0) { $0 + (ProcessStats.residentKiB($1.pid) ?? 0) }

        if pauseForProfiling {
            print("servers: " + cluster.servers.map { "\($0.name) pid \($0.processID ?? 0)" }.joined(separator: ", ") + " — press Enter to go on")
            _ = readLine()
        }
        print("idle: \(idleSeconds) s")
        let observedBefore = pool.counter(.observations)
        let unansweredBefore = pool.counter(.unansweredObservations)
        let shares = try await ProcessStats.cpuShare(of: cluster.servers.map(\.processID) + pool.workers.map(\.pid), over: .seconds(idleSeconds))
        result.idleCPU = Array(shares.prefix(cluster.servers.count))
        result.benchCPU = shares.dropFirst(cluster.servers.count).reduce(0, +)
        result.observations = pool.counter(.observations) - observedBefore
        result.unansweredObservations = pool.counter(.unansweredObservations) - unansweredBefore

        // Reconnect storm: kill -9 one server, restart it at once.
        let leader = try await cluster.agreedLeader(timeout: .seconds(30)).server
        guard let victimIndex = cluster.servers.firstIndex(where: { restartLeader ? $0 === leader : $0 !== leader }) else { return result }
        let victim = cluster.servers[victimIndex]
        result.restarted = "\(victim.name) (\(restartLeader ? "leader" : "follower"))"
        print("restart: kill -9 \(victim.name), restart it at once")
        victim.kill(signal: SIGKILL)
        _ = await pool.waitUntil(timeout: .seconds(10)) { $0[victimIndex] == 0 }
        let droppedTo = pool.attached[victimIndex]
        if droppedTo > 0 { result.notes.append("\(droppedTo) clients still counted on \(victim.name) 10 s after its kill") }
        let restartedAt = clock.now
        try cluster.start(victim)
        let attached = await pool.waitUntil(timeout: attachTimeout, progress: { counts in
            print("  attached to \(victim.name): \(counts[victimIndex])")
        }) { $0[victimIndex] >= expected[victimIndex] }
        result.restartAttach = attached.map { _ in clock.now - restartedAt }
        result.attachedAfterRestart = pool.attached[victimIndex]
        print("  all attached again after \(Self.seconds(result.restartAttach)) (\(result.attachedAfterRestart) attached)")

        if rate > 0 {
            try await Task.sleep(for: .seconds(3))
            print("throughput: \(Int(rate)) relayed sends/s for \(sendSeconds) s, random pairs, send → receipt")
            result.throughput = await pool.send(rate: rate, seconds: sendSeconds)
        }
        return result
    }

    /// How many of the run's clients prefer each server (the workers derive the same ids from `seed`).
    static func expectedAttachments(clients: Int, seed: UInt64, configuration: FleetConfiguration) -> [Int] {
        var counts = [Int](repeating: 0, count: configuration.servers.count)
        for index in 0..<clients {
            for server in configuration.preferredServers(of: SeededIdentity.identity(seed: seed, index: index).id) { counts[server] += 1 }
        }
        return counts
    }

    static func seconds(_ duration: Duration?) -> String {
        duration.map { String(format: "%.1f s", $0.milliseconds / 1000) } ?? "(not within the timeout)"
    }
}
