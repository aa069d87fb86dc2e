@testable import Fuzzing
import Raft
import Testing
import TestSupport

import Foundation

/// Every fuzz target for a few thousand inputs from a fixed seed: a regression net for what the
/// full runs (`Scripts/fuzz`) found and fixed.
@Suite(.serialized) struct FuzzTests {
    @Test(arguments: [(FuzzTarget.raftStep, 4000), (.mailboxApply, 1500), (.frames, 4000), (.clientLedger, 1500), (.clientEngine, 3000)])
    func targetHoldsItsInvariants(target: FuzzTarget, count: Int) async throws {
        let report = try await onOwnThread { try Fuzzer.run(target, seed: 20_250_101, count: count) }
        #expect(report.inputs == count)
        #expect(report.crashes == 0, "\(report.failures)")
        #expect(report.invariantViolations == 0, "\(report.failures)")
    }

    /// Runs CPU-bound work on a thread of its own: on the shared concurrency pool (two threads on
    /// two cores) it would starve the timing-sensitive network tests running beside it.
    @Test func inputsReplayFromTargetSeedAndIteration() async throws {
        for target in FuzzTarget.allCases {
            // client-engine blocks on a live client: never on the shared pool.
            let whole = try await onOwnThread { try Fuzzer.run(target, seed: 7, count: 50) }
            let replay = try await onOwnThread { try Fuzzer.run(target, seed: 7, count: 1, first: 49) }
            #expect(whole.inputs == 50 && replay.inputs == 1)
            #expect(whole.crashes == 0 && whole.invariantViolations == 0, "\(whole.failures)")
        }
    }
}


@Suite struct FuzzCoverageTests {
    /// raft-step starts from a node in every role (and a fresh node with no state).
    @Test func raftStepCoversEveryRole() {
        let roles = Set(RaftStepDriver().baselines.map(\.role))
        #expect(roles == [.leader, .follower, .preCandidate, .candidate])
        #expect(RaftStepDriver().baselines.contains { $0.lastIndex == 0 })
    }

    /// frames mutates valid encodings: the generators of the server frames, UDP datagrams and
    /// handshake hello make values whose encodings decode (the older generators make hostile,
    /// out-of-range values on purpose).
    @Test func serverAndTransportGeneratorsMakeDecodableValues() async throws {
        let failures = try await onOwnThread { () -> Set<String> in
            var driver = FramesDriver()
            driver.unmutated = true
            var failures: Set<String> = []
            for iteration in 0..<UInt64(2000) {
                var random = FuzzRandom(target: .frames, seed: 3, iteration: iteration)
                if case .violation(let reason) = driver.serverFrames(&random) { failures.insert(reason) }
                if case .violation(let reason) = driver.transportDatagrams(&random) { failures.insert(reason) }
            }
            return failures
        }
        #expect(failures.isEmpty, "\(failures)")
    }
}
