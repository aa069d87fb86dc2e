import ClusterHarness
import Foundation

/// The servers' push counters (`p2pcore_pushed_messages_total`, `p2pcore_push_restarts_total`),
/// summed over a cluster: how many times the relay pushed each message, and why it started over.
struct PushCounters: Sendable {
    var pushed = 0.0
    var silent = 0.0
    var stuck = 0.0
    /// The highest commit index of any server: Raft entries committed.
    var commitIndex = 0.0

    /// One scrape of every server's `/metrics` (`nil` if one did not answer).
    static func scrape(ports: [Int], secret: String) -> PushCounters? {
        var total = PushCounters()
        for port in ports {
            guard let values = ReadinessProbe.metrics(port: port, ["p2pcore_pushed_messages_total", "p2pcore_push_restarts_total", "p2pcore_raft_commit_index"], secret: secret) else {
                return nil
            }
            total.pushed += values["p2pcore_pushed_messages_total"] ?? 0
            total.silent += values["p2pcore_push_restarts_total{reason=\"silent\"}"] ?? 0
            total.stuck += values["p2pcore_push_restarts_total{reason=\"stuck\"}"] ?? 0
            total.commitIndex = max(total.commitIndex, values["p2pcore_raft_commit_index"] ?? 0)
        }
        return total
    }

    /// "pushes/msg 1.02, Raft entries/msg 0.05, start-overs silent 0 stuck 3" for `messages`
    /// relayed since `before`.
    func summary(since before: PushCounters, messages: Int) -> String {
        let count = Double(max(messages, 1))
        return "pushes/msg " + String(format: "%.2f", (pushed - before.pushed) / count)
            + ", Raft entries/msg " + String(format: "%.3f", (commitIndex - before.commitIndex) / count)
            + ", start-overs silent \(Int(silent - before.silent)) stuck \(Int(stuck - before.stuck))"
    }
}
