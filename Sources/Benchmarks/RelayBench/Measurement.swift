import Foundation
import Synchronization

/// Latencies recorded from many tasks.
final class LatencyRecorder: Sendable {
    private let values = Mutex<[Duration]>([])

    /// Adds one request's latency.
    func record(_ value: Duration) { values.withLock { $0.append(value) } }

    /// Every latency recorded so far, shortest first.
    var sorted: [Duration] { values.withLock { $0 }.sorted() }
}

/// What one in-flight level measured.
struct LevelResult: Sendable {
    /// Requests kept in flight.
    let level: Int
    /// Completed requests per second over the whole level.
    let rate: Double
    /// Median latency in milliseconds.
    let p50: Double
    /// 99th-percentile latency in milliseconds.
    let p99: Double
    /// The slowest request.
    let max: Duration
    /// CPU milliseconds per request: the servers together, and the client process.
    var serverCPU: Double?
    var clientCPU: Double?
    /// Context switches per request of the servers' threads together (voluntary and not): a
    /// count, so it moves less than CPU time when the machine's speed does.
    var serverSwitches: Double?
    /// Write requests completed by the machine's disks per request (everyone's: the servers'
    /// LMDB and the clients' ledgers alike).
    var diskWrites: Double?
    /// Flush requests completed by the machine's disks per request, counted the same way: on a
    /// disk whose flushes are slow, what bounds the rate (docs/SCALING.md).
    var diskFlushes: Double?

    /// Summarises `latencies` (one per request) of a level that took `elapsed` in all.
    init(level: Int, latencies: [Duration], elapsed: Duration) {
        let sorted = latencies.sorted()
        self.level = level
        rate = sorted.isEmpty ? 0 : Double(sorted.count) / Swift.max(elapsed.milliseconds / 1000, .leastNonzeroMagnitude)
        p50 = sorted.isEmpty ? 0 : sorted[sorted.count / 2].milliseconds
        p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)].milliseconds
        max = sorted.last ?? .zero
    }
}

extension Duration {
    /// The duration in (fractional) milliseconds.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}

/// Runs `operation` `count` times with at most `level` runs in flight; returns the level's
/// throughput and latency percentiles (each run's latency is how long its `operation` took).
func measureLevel(
    _ level: Int, count: Int, _ operation: @escaping @Sendable () async throws -> Void
) async throws -> LevelResult {
    let latencies = LatencyRecorder()
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<count {
            if index >= level { try await group.next() }
            group.addTask {
                let begin = ContinuousClock.now
                try await operation()
                latencies.record(ContinuousClock.now - begin)
            }
        }
        try await group.waitForAll()
    }
    return LevelResult(level: level, latencies: latencies.sorted, elapsed: ContinuousClock.now - start)
}

/// ``measureLevel(_:count:_:)`` with the CPU `meter` read around it (servers first, the client
/// process last), reported per request.
func measureLevel(
    _ level: Int, count: Int, meter: CPUMeter, _ operation: @escaping @Sendable () async throws -> Void
) async throws -> LevelResult {
    let before = meter.seconds()
    let switchesBefore = meter.switches()
    let writesBefore = CPUMeter.diskWrites()
    let flushesBefore = CPUMeter.diskFlushes()
    var result = try await measureLevel(level, count: count, operation)
    let used = zip(meter.seconds(), before).map { $0 - $1 }
    result.serverCPU = used.dropLast().reduce(0, +) * 1000 / Double(count)
    result.clientCPU = (used.last ?? 0) * 1000 / Double(count)
    result.serverSwitches = Double(CPUMeter.switches(from: switchesBefore, to: meter.switches()).dropLast().reduce(0, +)) / Double(count)
    result.diskWrites = Double(CPUMeter.diskWrites() - writesBefore) / Double(count)
    if let flushesBefore, let flushesAfter = CPUMeter.diskFlushes() {
        result.diskFlushes = Double(flushesAfter - flushesBefore) / Double(count)
    }
    return result
}

/// Prints the measurement tables.
enum Report {
    /// The header of a per-mode table.
    static let header = "in flight   msgs/s     p50 ms    p99 ms   server CPU ms/msg   client CPU ms/msg   server switches/msg   disk writes/msg   disk flushes/msg"

    /// One row of a per-mode table.
    static func row(_ result: LevelResult) -> String {
        String(format: "%9d %9.0f %9.2f %9.2f", result.level, result.rate, result.p50, result.p99)
            + (result.serverCPU.map { String(format: " %19.3f", $0) } ?? String(repeating: " ", count: 20))
            + (result.clientCPU.map { String(format: " %19.3f", $0) } ?? String(repeating: " ", count: 20))
            + (result.serverSwitches.map { String(format: " %21.1f", $0) } ?? String(repeating: " ", count: 22))
            + (result.diskWrites.map { String(format: " %17.1f", $0) } ?? String(repeating: " ", count: 18))
            + (result.diskFlushes.map { String(format: " %18.2f", $0) } ?? "")
    }

    /// Prints the msgs/s of `numerator` divided by those of `denominator`, level by level, then
    /// both rates (levels missing on either side are left out).
    static func printRatio(_ numeratorName: String, _ numerator: [LevelResult], over denominatorName: String, _ denominator: [LevelResult]) {
        print("")
        print("\(numeratorName) / \(denominatorName) (msgs/s)")
        print("in flight      ratio " + pad(numeratorName) + " " + pad(denominatorName))
        for result in numerator {
            guard let other = denominator.first(where: { $0.level == result.level }), other.rate > 0 else { continue }
            print(String(format: "%9d %10.4f %9.0f %9.0f", result.level, result.rate / other.rate, result.rate, other.rate))
        }
    }

    /// `text` right-aligned in a 9-character column.
    private static func pad(_ text: String) -> String {
        String(repeating: " ", count: Swift.max(0, 9 - text.count)) + text
    }
}
