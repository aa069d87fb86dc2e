import Foundation

/// Prints what `p2pcore-bench scale` measured.
enum ScaleReport {
    /// The figures of one run, server by server.
    static func printDetail(_ result: ScaleRun.Result) {
        print("server   RSS idle MiB  RSS loaded MiB  attached  KiB/client  idle CPU %")
        for (index, name) in result.serverNames.enumerated() {
            print(name.padding(toLength: 8, withPad: " ", startingAt: 0) + String(
                format: " %12.1f %15.1f %9d %11.1f %11.1f",
                mebibytes(result.idleRSS, index), mebibytes(result.loadedRSS, index), value(result.attachedPerServer, index),
                index < result.perClientKiB.count ? result.perClientKiB[index] : .nan, index < result.idleCPU.count ? result.idleCPU[index] : .nan
            ))
        }
        if !result.expectedPerServer.isEmpty {
            print("clients preferring each server (attached while all are up): " + result.expectedPerServer.map(String.init).joined(separator: " / "))
        }
        print(String(
            format: "bench workers: %.1f %% CPU while idle (all together), RSS %.0f MiB; %d UDP observations answered (%d not) in the idle window",
            result.benchCPU, Double(result.benchRSS) / 1024, result.observations, result.unansweredObservations
        ))
        if let throughput = result.throughput {
            print(String(
                format: "throughput: %d launched, %d delivered (%.0f/s), %d stored only, %d failed; send → receipt p50 %.1f ms, p99 %.1f ms",
                throughput.launched, throughput.delivered, throughput.rate(receipts: true), throughput.storedOnly, throughput.failed,
                throughput.percentile(0.5), throughput.percentile(0.99)
            ))
            if let failure = throughput.firstFailure { print("  first failure: \(failure)") }
        }
        for note in result.notes { print("note: \(note)") }
    }

    /// One line per number of clients.
    static func printSummary(_ results: [ScaleRun.Result]) {
        print("summary (targets at 10k clients per server: <= 50 KiB RSS per client, attach <= 60 s cold and after a restart, idle CPU <= 10 %)")
        print("clients   cold attach   restart attach   KiB/client (max)   idle CPU % (max)   relayed/s   p50 ms   p99 ms")
        for result in results {
            let perClient = result.perClientKiB.filter { !$0.isNaN }.max() ?? .nan
            let cpu = result.idleCPU.max() ?? .nan
            let throughput = result.throughput
            print(String(format: "%7d", result.clients) + pad(short(result.coldAttach), 14) + pad(short(result.restartAttach), 17) + String(
                format: " %18.1f %18.1f %11.0f %8.1f %8.1f",
                perClient, cpu, throughput?.rate(receipts: true) ?? .nan, throughput?.percentile(0.5) ?? .nan, throughput?.percentile(0.99) ?? .nan
            ))
        }
    }

    /// Seconds with one decimal, or "timeout".
    private static func short(_ duration: Duration?) -> String {
        duration.map { String(format: "%.1f s", $0.milliseconds / 1000) } ?? "timeout"
    }

    /// `text` right-aligned in a column of `width`.
    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private static func mebibytes(_ values: [Int], _ index: Int) -> Double {
        index < values.count ? Double(values[index]) / 1024 : .nan
    }

    private static func value(_ values: [Int], _ index: Int) -> Int {
        index < values.count ? values[index] : 0
    }
}
