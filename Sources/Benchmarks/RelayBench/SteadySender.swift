import Foundation
import P2PCore
import SimulatedClients
import Synchronization

/// Sends at a steady aggregate rate from random simulated clients to random others, each send
/// a task of its own, and measures how they end and how long they took.
struct SteadySender {
    /// How the sends of one run ended.
    struct Result: Sendable {
        var launched = 0
        var delivered = 0
        var storedOnly = 0
        var failed = 0
        var firstFailure: String?
        /// Send → receipt (or → stored, when receipts are not awaited) latencies, shortest first.
        var latencies: [Duration] = []
        /// How long launching took (the run's nominal length).
        var elapsed: Duration = .zero

        func percentile(_ share: Double) -> Double {
            guard !latencies.isEmpty else { return .nan }
            return latencies[min(latencies.count - 1, Int(Double(latencies.count) * share))].milliseconds
        }

        /// Sends that reached their goal (delivered, or stored when receipts are not awaited) per second.
        func rate(receipts: Bool) -> Double {
            Double(receipts ? delivered : delivered + storedOnly) / max(elapsed.milliseconds / 1000, 0.001)
        }
    }

    let senders: [SimulatedClient]
    /// The ids sends go to (any but the sender's own).
    let recipients: [NodeID]
    /// Sends per second, in all.
    let rate: Double
    let duration: Duration
    let payload: [UInt8]
    /// Wait for the recipient's acknowledgement (else only for a server's "stored").
    let waitForReceipt: Bool
    /// Each send's own deadline.
    let timeout: Duration

    func run() async -> Result {
        let outcomes = Locked(Result())
        let clock = ContinuousClock()
        let start = clock.now
        await withDiscardingTaskGroup { group in
            var launched = 0
            while clock.now - start < duration {
                let due = Int(rate * (clock.now - start).milliseconds / 1000) - launched
                for _ in 0..<max(0, due) {
                    guard let sender = senders.randomElement() else { break }
                    var recipient = recipients.randomElement()
                    if recipient == sender.id, recipients.count > 1 { recipient = recipients.first { $0 != sender.id } }
                    guard let recipient else { break }
                    launched += 1
                    group.addTask {
                        let began = clock.now
                        let outcome = await sender.send(to: recipient, payload: payload, waitForReceipt: waitForReceipt, timeout: timeout)
                        let took = clock.now - began
                        outcomes.withLock { result in
                            switch outcome {
                            case .delivered:
                                result.delivered += 1
                                result.latencies.append(took)
                            case .stored:
                                result.storedOnly += 1
                                if !waitForReceipt { result.latencies.append(took) }
                            case .expired, .failed:
                                result.failed += 1
                                if result.firstFailure == nil { result.firstFailure = "\(outcome)" }
                            }
                        }
                    }
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            outcomes.withLock { $0.launched = launched }
        }
        return outcomes.withLock { result in
            result.elapsed = duration
            result.latencies.sort()
            return result
        }
    }
}
