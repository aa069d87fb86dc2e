import ClusterHarness
import Foundation
import P2PCore
import SimulatedClients
import Synchronization

/// Adds a new server (empty data directory, one member as its peer: it asks to join, the leader
/// adds it as a learner, sends it the state and promotes it once it caught up) while senders
/// keep sending at a steady rate; measures the time until the newcomer applies a membership in
/// which it votes, and the sends meanwhile (send → stored, the recipients being offline).
enum QueuedJoin {
    struct Result: Sendable {
        var name = ""
        var caughtUp: Duration?
        var problem: String?
        var sends = SteadySender.Result()
    }

    static func run(
        cluster: LocalCluster, senders: [SimulatedClient], recipients: [SimulatedClient], rate: Double, payload: [UInt8], timeout: Duration,
        started: (ServerProcess) throws -> Void = { _ in }
    ) async throws -> Result {
        var result = Result()
        let leader = try await cluster.agreedLeader(timeout: .seconds(30)).server
        let clock = ContinuousClock()
        let stop = Atomic<Bool>(false)
        print("join: a new server joins through \(leader.name) while \(Int(rate)) sends/s go on (timeout \(timeout))")
        let sending = Task {
            // In slices, so that the sends stop soon after the join ends.
            var total = SteadySender.Result()
            while !stop.load(ordering: .relaxed) {
                let slice = await SteadySender(
                    senders: senders, recipients: recipients.map(\.id), rate: rate, duration: .seconds(2), payload: payload,
                    waitForReceipt: false, timeout: .seconds(30)
                ).run()
                total.merge(slice)
            }
            total.latencies.sort()
            return total
        }
        let start = clock.now
        let newcomer = try await cluster.addServer(through: leader)
        try started(newcomer)
        result.name = newcomer.name
        let name = newcomer.name
        var newcomerID: String?
        do {
            let id = try await cluster.log.wait(for: "the newcomer's id", timeout: .seconds(30)) { _ in newcomer.nodeID }
            newcomerID = id
            _ = try await cluster.log.wait(for: "\(name) voting after catching up", timeout: timeout) { lines in
                lines.contains { $0.hasPrefix("[\(name)]") && $0.contains("membership applied") && (ClusterLog.field("raft.voters", in: $0)?.contains(id) ?? false) }
                    ? true : nil
            }
            result.caughtUp = clock.now - start
        } catch {
            var problem = "\(error)"
            // What the servers said about the newcomer or snapshots, and the newcomer itself (last few).
            let keywords = ["snapshot", "too large", "overloaded", "frame"] + (newcomerID.map { [$0] } ?? [])
            let hints = cluster.log.all.filter { line in
                line.hasPrefix("[\(name)]") || keywords.contains { line.localizedCaseInsensitiveContains($0) }
            }
            if !hints.isEmpty { problem += "; last related log lines:\n    " + hints.suffix(4).map { String($0.prefix(300)) }.joined(separator: "\n    ") }
            result.problem = problem
        }
        stop.store(true, ordering: .relaxed)
        result.sends = await sending.value
        print("  \(name) caught up (votes) after \(ScaleRun.seconds(result.caughtUp))" + (result.problem.map { " — \($0)" } ?? ""))
        let sends = result.sends
        print(String(format: "  concurrent sends: %d launched, %d stored, %d failed; send → stored p50 %.1f ms, p99 %.1f ms",
                     sends.launched, sends.storedOnly + sends.delivered, sends.failed, sends.percentile(0.5), sends.percentile(0.99)))
        return result
    }
}

extension SteadySender.Result {
    /// Adds another slice's counts and latencies (unsorted).
    mutating func merge(_ other: SteadySender.Result) {
        launched += other.launched
        delivered += other.delivered
        storedOnly += other.storedOnly
        failed += other.failed
        firstFailure = firstFailure ?? other.firstFailure
        latencies += other.latencies
        elapsed += other.elapsed
    }
}
