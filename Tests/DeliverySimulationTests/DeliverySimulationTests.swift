import Foundation
import Testing
import TestSupport
@testable import DeliverySimulation

/// The whole-system delivery simulator over a fixed seed set, its replay, and its checker
/// catching deliberately broken clients.
@Suite struct DeliverySimulationTests {
    /// Faulty ticks per run in the test (the CLI's default is longer).
    static let steps = 150

    static func options(seed: UInt64, bug: ClientBug? = nil, verbose: Bool = false) -> DeliverySimulationOptions {
        var options = DeliverySimulationOptions(seed: seed)
        options.steps = steps
        options.bug = bug
        options.verbose = verbose
        return options
    }

    /// Regression: at the command line's full length, these seeds have a recipient wait behind
    /// a gap, or leave skips in a mailbox, that only start-overs of the push clear. With the
    /// patience doubling on silence (up to 8 ×, or even once), the start-overs came too late for
    /// the checker's quiet period.
    @Test(arguments: [18, 1395, 5027, 14389, 18605] as [UInt64])
    func seedsWhoseGapsOnlyStartOversFillPassAtFullLength(seed: UInt64) async throws {
        let summary = try await onOwnThread { try DeliverySimulation(options: DeliverySimulationOptions(seed: seed)).run() }
        #expect(summary.delivered > 0)
    }

    @Test func fiveHundredSeedsHoldEveryDeliveryGuarantee() async throws {
        // Tens of seconds of CPU: on a thread of its own, not on the two-thread concurrency pool,
        // where it would stall every network test running beside it past its timeouts.
        let outcome = try await onOwnThread { () -> (failures: [String], totals: DeliverySummary) in
            var failures: [String] = []
            var totals = DeliverySummary()
            for seed in UInt64(1)...500 {
                do {
                    totals.add(try DeliverySimulation(options: Self.options(seed: seed)).run())
                } catch {
                    failures.append("seed \(seed): \(error)")
                }
            }
            return (failures, totals)
        }
        #expect(outcome.failures.isEmpty, "\(outcome.failures.prefix(5).joined(separator: "\n"))")
        // The runs exercised what they are meant to: both paths, refusals, skips, purges, faults.
        #expect(outcome.totals.delivered > 10_000)
        #expect(outcome.totals.direct > 1_000)
        #expect(outcome.totals.relayed > 1_000)
        #expect(outcome.totals.refused > 100)
        #expect(outcome.totals.skips > 100)
        #expect(outcome.totals.purged > 10)
        #expect(outcome.totals.faults > 1_000)
    }

    @Test func twoHundredSeedsWithBatchReceivesHoldEveryDeliveryGuarantee() async throws {
        let failures = try await onOwnThread { () -> [String] in
            var failures: [String] = []
            for seed in UInt64(1)...200 {
                var options = Self.options(seed: seed)
                options.receiveBatch = 1 + Int(seed % 16)
                do {
                    _ = try DeliverySimulation(options: options).run()
                } catch {
                    failures.append("seed \(seed): \(error)")
                }
            }
            return failures
        }
        #expect(failures.isEmpty, "\(failures.prefix(5).joined(separator: "\n"))")
    }

    @Test func aSeedReplaysByteForByte() async throws {
        let outputs = try await onOwnThread { () -> [[String]] in
            try (0..<2).map { _ in
                let simulation = DeliverySimulation(options: Self.options(seed: 17, verbose: true))
                let summary = try simulation.run()
                return simulation.trace + [summary.line(seed: 17, result: "PASS")]
            }
        }
        #expect(outputs[0].count > 100)
        #expect(outputs[0] == outputs[1])
    }

    /// Each deliberate bug is caught by seeds named here (found with
    /// `delivery-simulate --seeds 60 --steps 150 --bug NAME --keep-going`), on the guarantee it breaks.
    @Test(arguments: [
        (ClientBug.handOverBeforeLedger, [UInt64(9), 56, 105], "exactly once"),
        (ClientBug.acknowledgeBehindGap, [UInt64(4), 5, 6], "every accepted message delivered"),
        (ClientBug.relayedCopyAfterDirect, [UInt64(1), 3, 4], "exactly once"),
    ])
    func aDeliberateBugIsCaught(bug: ClientBug, seeds: [UInt64], guarantee: String) async throws {
        let caught = try await onOwnThread { () -> [String?] in
            seeds.map { seed -> String? in
                do {
                    _ = try DeliverySimulation(options: Self.options(seed: seed, bug: bug)).run()
                    return nil
                } catch {
                    return (error as? DeliveryViolation)?.guarantee ?? "\(error)"
                }
            }
        }
        for (seed, violated) in zip(seeds, caught) {
            #expect(violated == guarantee, "seed \(seed) with \(bug.rawValue): \(violated ?? "passed")")
        }
    }

    @Test func theSameSeedsPassWithoutTheBug() async throws {
        try await onOwnThread {
            for seed: UInt64 in [1, 3, 4, 5, 6, 9, 56, 105] {
                _ = try DeliverySimulation(options: Self.options(seed: seed)).run()
            }
        }
    }

}
