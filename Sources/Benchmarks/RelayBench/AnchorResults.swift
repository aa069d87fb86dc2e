import Foundation

/// End-to-end figures of a reference broker measured in the same session (the `RESULT ... window=W
/// ... rate=R msgs/s p50=Pus` lines of the NATS anchor run by `Scripts/bench` when it is
/// available), by number of sends in flight.
struct AnchorResults: Sendable {
    let label: String
    let rates: [Int: Double]
    let p50: [Int: Double]

    /// Reads the e2e lines of `path`; `nil` if it holds none.
    static func read(_ path: String) -> AnchorResults? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        var label = "anchor"
        var rates: [Int: Double] = [:]
        var p50: [Int: Double] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("RESULT ") && line.contains("e2e") {
            let fields = line.split(separator: " ")
            if fields.count > 1 { label = String(fields[1]) }
            func value(_ key: String) -> Double? {
                fields.first { $0.hasPrefix(key + "=") }.flatMap { Double($0.dropFirst(key.count + 1).prefix { $0.isNumber || $0 == "." }) }
            }
            // The one-at-a-time run names no window.
            let window = value("window").map(Int.init) ?? (line.contains("send_until_consumer_acked") ? 1 : nil)
            guard let window, let rate = value("rate") else { continue }
            rates[window] = rate
            p50[window] = value("p50").map { $0 / 1000 }
        }
        return rates.isEmpty ? nil : AnchorResults(label: label, rates: rates, p50: p50)
    }

    /// Prints `results` beside the anchor's figures, with the ratio of their rates.
    func printComparison(_ name: String, _ results: [LevelResult]) {
        print("")
        print("\(name) / \(label) e2e (same session)")
        print("in flight      ratio   p2pcore msgs/s (p50 ms)   \(label) msgs/s (p50 ms)")
        for result in results {
            guard let rate = rates[result.level], rate > 0 else { continue }
            print(String(
                format: "%9d %10.2f %16.0f (%6.2f) %16.0f (%6.2f)",
                result.level, result.rate / rate, result.rate, result.p50, rate, p50[result.level] ?? .nan
            ))
        }
    }
}
