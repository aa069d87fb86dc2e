import ArgumentParser
import ClusterHarness
import Foundation
import Logging
import P2PClient
import P2PCore
import Synchronization

/// Relayed send-until-acknowledged through 3 local servers: msgs/s and latency percentiles at
/// several numbers of sends in flight.
@main
struct RelayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2pcore-bench",
        abstract: "Measures relayed sends (each returns once the recipient's application has the message)."
    )

    @Option(help: "Sends in flight, comma-separated.")
    var inFlight: String = "1,16,256"

    @Option(help: "Messages per level.")
    var messages: Int = 2000

    @Option(help: "Payload size in bytes.")
    var size: Int = 256

    @Option(help: "The p2pcore-server binary (default: the one built beside this program).")
    var server: String?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let levels = inFlight.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        let cluster = try await LocalCluster.start(size: 3, binary: server ?? LocalCluster.siblingBinary, secret: "bench-secret")
        defer { cluster.stop() }
        let sender = try await P2PClient.start(cluster.clientConfiguration("sender"))
        let receiver = try await P2PClient.start(cluster.clientConfiguration("receiver"))
        let draining = Task {
            for try await _ in receiver.receive() {}
        }
        print("p2pcore relay: 3 servers on loopback (Raft, LMDB synced per batch), \(size)-byte messages, \(messages) per level")
        print("in flight   msgs/s     p50 ms    p99 ms")
        let payload = [UInt8](repeating: 0x5A, count: size)
        // Warm up links, caches and the recipient lookup.
        for _ in 0..<20 { try await sender.send(to: receiver.id, data: payload) }
        for level in levels {
            let latencies = LatencyRecorder()
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<messages {
                    if i >= level { try await group.next() }
                    group.addTask {
                        let begin = ContinuousClock.now
                        try await sender.send(to: receiver.id, data: payload, timeout: .seconds(60))
                        let took = ContinuousClock.now - begin
                        latencies.record(took)
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - start
            let sorted = latencies.sorted
            func millis(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
            let p50 = millis(sorted[sorted.count / 2])
            let p99 = millis(sorted[min(sorted.count - 1, sorted.count * 99 / 100)])
            let rate = Double(messages) / (millis(elapsed) / 1000)
            print(String(format: "%9d %9.0f %9.2f %9.2f", level, rate, p50, p99))
        }
        draining.cancel()
        await sender.shutdown()
        await receiver.shutdown()
    }
}

/// Latencies recorded from many tasks.
final class LatencyRecorder: Sendable {
    private let values = Mutex<[Duration]>([])
    func record(_ value: Duration) { values.withLock { $0.append(value) } }
    var sorted: [Duration] { values.withLock { $0 }.sorted() }
}
