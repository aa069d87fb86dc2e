import Foundation
import Testing
import TestSupport
@testable import RaftSimulation

/// The seeded fault simulator over a fixed seed set: 3, 5 and 7 nodes.
@Suite struct SimulationTests {
    static let seeds: [UInt64] = Array(1...510)

    @Test(arguments: [3, 5, 7])
    func fixedSeedsHoldEverySafetyAndLivenessProperty(nodes: Int) async throws {
        // Seconds of CPU: on a thread of its own, not on the two-thread concurrency pool, where
        // it would stall every network test running beside it past its timeouts.
        let failure = try await onOwnThread { () -> String? in
            for seed in Self.seeds where Int(seed % 3) == [3, 5, 7].firstIndex(of: nodes) {
                var options = SimulationOptions(seed: seed, nodes: nodes)
                options.steps = 200
                options.healSteps = 150
                do {
                    _ = try Simulation(options: options).run()
                } catch {
                    return "\(error)"
                }
            }
            return nil
        }
        if let failure { Issue.record("\(failure)") }
    }

    @Test func aRunReplaysExactlyFromItsSeed() throws {
        let first = try Simulation(options: SimulationOptions(seed: 77, nodes: 5)).run()
        let second = try Simulation(options: SimulationOptions(seed: 77, nodes: 5)).run()
        #expect(first.messagesDelivered == second.messagesDelivered)
        #expect(first.proposalsAcknowledged == second.proposalsAcknowledged)
        #expect(first.leaderElections == second.leaderElections)
        #expect(first.proposalsAcknowledged > 0)
    }
}
