import ArgumentParser
import P2PCore
import RaftSimulation

/// `raft-simulate`: runs seeded fault simulations of the Raft core and checks its properties.
@main
struct RaftSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raft-simulate",
        abstract: "Runs seeded Raft fault simulations; exits non-zero with the seed on any violation.",
        discussion: """
        Examples:
          raft-simulate --seeds 20000                 # seeds 1...20000, cycling 3, 5 and 7 nodes
          raft-simulate --seeds 1000 --nodes 5
          raft-simulate --seed 4242 --nodes 7         # replay one run exactly
        """,
        version: P2PCoreVersion.current
    )

    @Option(help: "How many seeds to run (starting at --first-seed).")
    var seeds = 1000

    @Option(help: "First seed of the range.")
    var firstSeed: UInt64 = 1

    @Option(help: "Run exactly this seed (replay).")
    var seed: UInt64?

    @Option(help: "Cluster size; by default seeds cycle through 3, 5 and 7 nodes.")
    var nodes: Int?

    @Option(help: "Faulty steps per run.")
    var steps = 400

    @Flag(help: "Print what every node applies and installs (use with --seed).")
    var trace = false

    func run() throws {
        let start = ContinuousClock.now
        let seedList: [UInt64] = seed.map { [$0] } ?? Array(firstSeed..<(firstSeed + UInt64(seeds)))
        var totals = SimulationSummary()
        for (position, current) in seedList.enumerated() {
            let size = nodes ?? [3, 5, 7][Int(current % 3)]
            var options = SimulationOptions(seed: current, nodes: size)
            options.steps = steps
            options.trace = trace
            do {
                let summary = try Simulation(options: options).run()
                totals.proposalsAcknowledged += summary.proposalsAcknowledged
                totals.leaderElections += summary.leaderElections
                totals.crashes += summary.crashes
                totals.partitions += summary.partitions
                totals.membershipChanges += summary.membershipChanges
                totals.transfers += summary.transfers
                totals.snapshotsInstalled += summary.snapshotsInstalled
                totals.proposalsForwarded += summary.proposalsForwarded
                totals.forwardedProposalsCommitted += summary.forwardedProposalsCommitted
                totals.readsRequested += summary.readsRequested
                totals.readsConfirmed += summary.readsConfirmed
            } catch {
                print("FAILED: \(error)")
                throw ExitCode.failure
            }
            if (position + 1) % 1000 == 0 { print("... \(position + 1) seeds passed") }
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("""
        passed \(seedList.count) seeds in \((seconds * 10).rounded() / 10) s: \
        \(totals.proposalsAcknowledged) proposals committed, \(totals.leaderElections) leaderships, \(totals.crashes) crashes, \
        \(totals.partitions) partitions, \(totals.membershipChanges) membership changes, \(totals.transfers) transfers, \
        \(totals.snapshotsInstalled) snapshots installed, \(totals.forwardedProposalsCommitted)/\(totals.proposalsForwarded) forwarded \
        proposals committed at their proposer, \(totals.readsConfirmed)/\(totals.readsRequested) linearizable reads confirmed
        """)
    }
}
