import Foundation
import P2PCore
import SimulatedClients

/// The simulated clients of a `scale` run, spread over ``WorkerProcess``es.
final class WorkerPool: Sendable {
    let workers: [WorkerProcess]
    let servers: Int

    private init(workers: [WorkerProcess], servers: Int) {
        self.workers = workers
        self.servers = servers
    }

    /// Spawns enough workers for `total` clients, at most `perWorker` each, and waits until
    /// each has made its clients.
    static func start(
        total: Int, perWorker: Int, seed: UInt64, configuration: FleetConfiguration, payloadSize: Int
    ) async throws -> WorkerPool {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let clusterKey = configuration.clusterKey.map { String(format: "%02x", $0) }.joined()
        var workers: [WorkerProcess] = []
        var first = 0
        while first < total {
            let count = min(perWorker, total - first)
            var arguments = [
                "scale-worker", "--servers", configuration.servers.joined(separator: ","), "--cluster-key", clusterKey,
                "--first", "\(first)", "--count", "\(count)", "--total", "\(total)", "--seed", "\(seed)", "--size", "\(payloadSize)",
            ]
            if !configuration.observeUDP { arguments.append("--no-udp") }
            arguments += ["--maximum-attached", "\(configuration.maximumAttachedServers)"]
            arguments += ["--observation", configuration.observationPace == .schedule ? "schedule" : "flat"]
            do {
                workers.append(try WorkerProcess.spawn(
                    executable: executable, arguments: arguments, environment: [ScaleWorkerCommand.secretVariable: configuration.secret]
                ))
            } catch {
                for worker in workers { worker.stop() }
                throw error
            }
            first += count
        }
        let pool = WorkerPool(workers: workers, servers: configuration.servers.count)
        for worker in workers where await worker.line(startingWith: "ready", timeout: .seconds(120)) == nil {
            pool.stop()
            throw QueuedCommand.Failure("a scale worker (pid \(worker.pid)) did not get ready within 120 s")
        }
        return pool
    }

    func broadcast(_ command: String) { for worker in workers { worker.send(command) } }

    /// Attached clients per server, summed over the workers.
    var attached: [Int] { (0..<servers).map { counter($0) } }

    /// Field `index` of the workers' status lines, summed.
    func counter(_ index: Int) -> Int {
        workers.reduce(0) { sum, worker in
            let status = worker.status
            return sum + (index < status.count ? status[index] : 0)
        }
    }

    /// The fleet counters after the per-server counts (see ``ScaleWorkerCommand``).
    enum Counter: Int { case welcomes = 0, failedAttempts, lostLinks, observations, unansweredObservations, delivered, duplicates }
    func counter(_ counter: Counter) -> Int { self.counter(servers + counter.rawValue) }

    /// Waits until `condition` holds for the attached counts; returns how long it took, or `nil`
    /// after `timeout`. Polls every 50 ms (status lines come every 200 ms).
    func waitUntil(timeout: Duration, progress: ([Int]) -> Void = { _ in }, _ condition: ([Int]) -> Bool) async -> Duration? {
        let clock = ContinuousClock()
        let start = clock.now
        var lastProgress = start
        while clock.now - start < timeout {
            let counts = attached
            if condition(counts) { return clock.now - start }
            if clock.now - lastProgress >= .seconds(2) {
                lastProgress = clock.now
                progress(counts)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Every worker sends its share of `rate` for `seconds`; the results together.
    func send(rate: Double, seconds: Int) async -> SteadySender.Result {
        broadcast("send \(rate / Double(workers.count)) \(seconds)")
        var total = SteadySender.Result()
        for worker in workers {
            guard let line = await worker.line(startingWith: "sent ", timeout: .seconds(seconds + 60)) else {
                total.firstFailure = total.firstFailure ?? "worker \(worker.pid) did not report its sends"
                continue
            }
            let fields = line.split(separator: " ", omittingEmptySubsequences: false).dropFirst().map(String.init)
            guard fields.count >= 4 else { continue }
            var slice = SteadySender.Result()
            slice.launched = Int(fields[0]) ?? 0
            slice.delivered = Int(fields[1]) ?? 0
            slice.storedOnly = Int(fields[2]) ?? 0
            slice.failed = Int(fields[3]) ?? 0
            slice.latencies = fields.count > 4 ? fields[4].split(separator: ",").compactMap { Int($0) }.map { .microseconds($0) } : []
            total.merge(slice)
        }
        total.elapsed = .seconds(seconds)
        total.latencies.sort()
        return total
    }

    func stop() { for worker in workers { worker.stop() } }
}
