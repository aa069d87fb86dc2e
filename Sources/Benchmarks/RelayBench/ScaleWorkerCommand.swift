import ArgumentParser
import Foundation
import P2PCore
import SimulatedClients
import Synchronization

/// `p2pcore-bench scale-worker` (internal): hosts simulated clients `--first` ..< `--first` +
/// `--count` of a `scale` run for the coordinating `p2pcore-bench scale` process.
///
/// Commands on stdin, one per line: `start`, `stop`, `send <rate> <seconds>` (answered by
/// `sent <launched> <delivered> <stored> <failed> <latencies in µs, comma-separated>`) and
/// `exit`. Prints `ready` once its clients exist, then every 200 ms `status` followed by the
/// attached count per server and the fleet counters (welcomes, failed attempts, lost links,
/// observations, unanswered observations, delivered, duplicates).
struct ScaleWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale-worker", abstract: "Internal: hosts part of the simulated clients of `scale`.", shouldDisplay: false
    )

    /// Sets the niceness of every thread of this process (on Linux it is per thread; threads
    /// made later inherit it from the thread that makes them). Lowering it needs no privileges;
    /// a failure leaves it as it was.
    static func lowerPriority(to nice: Int32) {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return }
        for task in tasks {
            guard let thread = id_t(task) else { continue }
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread, nice)
        }
    }

    /// Where the cluster secret comes from (never the command line).
    static let secretVariable = "P2PCORE_BENCH_SECRET"

    @Option var servers: String
    @Option(help: "The cluster key (32 bytes, hex).") var clusterKey: String
    @Option var first: Int
    @Option var count: Int
    @Option(help: "Clients in the whole run (the recipients of sends).") var total: Int
    @Option var seed: UInt64
    @Option var size: Int = 256
    @Flag var noUdp = false
    @Option var maximumAttached = 3
    @Option(help: "UDP observation pace: schedule (the real client's) or flat (every 5 s).") var observation = "schedule"
    @Option(help: "Niceness to run at: the simulated clients share the machine with the servers they measure, and real clients would not take the servers' CPU.")
    var nice: Int32 = 10

    func run() async throws {
        BenchCommand.bootstrapLogging()
        FileDescriptorLimit.raise()
        Self.lowerPriority(to: nice)
        guard let secret = ProcessInfo.processInfo.environment[Self.secretVariable] else { throw ValidationError("\(Self.secretVariable) is not set") }
        var configuration = FleetConfiguration(servers: servers.split(separator: ",").map(String.init), secret: secret, clusterKey: Self.bytes(hex: clusterKey))
        configuration.observeUDP = !noUdp
        configuration.maximumAttachedServers = maximumAttached
        configuration.observationPace = observation == "flat" ? .every(.seconds(5)) : .schedule
        let fleet = SimulatedFleet(count: count, firstIndex: first, seed: seed, configuration: configuration)
        Self.emit("ready")
        let reporter = Task {
            while !Task.isCancelled {
                let numbers = fleet.board.all + fleet.counters.all
                Self.emit("status " + numbers.map(String.init).joined(separator: " "))
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        defer {
            reporter.cancel()
            fleet.stop()
        }
        var recipients: [NodeID]?
        for await line in Self.standardInputLines() {
            let words = line.split(separator: " ")
            switch words.first {
            case "start": fleet.start()
            case "stop": fleet.stop()
            case "send":
                guard words.count == 3, let rate = Double(words[1]), let seconds = Int(words[2]) else { continue }
                let ids = recipients ?? (0..<total).map { SeededIdentity.identity(seed: seed, index: $0).id }
                recipients = ids
                let result = await SteadySender(
                    senders: fleet.clients, recipients: ids, rate: rate, duration: .seconds(seconds),
                    payload: [UInt8](repeating: 0x5A, count: size), waitForReceipt: true, timeout: .seconds(30)
                ).run()
                let latencies = result.latencies.map { String(Int($0.milliseconds * 1000)) }.joined(separator: ",")
                Self.emit("sent \(result.launched) \(result.delivered) \(result.storedOnly) \(result.failed) \(latencies)")
            case "exit": return
            default: continue
            }
        }
    }

    private static let output = Mutex(())

    /// One line on stdout, whole.
    static func emit(_ line: String) {
        output.withLock { _ in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    /// Lines of stdin, read on a thread of their own; finishes at end of input.
    static func standardInputLines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }.start()
        return stream
    }

    static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index < hex.endIndex {
            if let byte = UInt8(hex[index..<next], radix: 16) { bytes.append(byte) }
            index = next
        }
        return bytes
    }
}
