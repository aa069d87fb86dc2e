import ArgumentParser
import DeliverySimulation
import P2PCore

/// `delivery-simulate`: runs seeded whole-system delivery simulations and checks the guarantees.
@main
struct DeliverySimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delivery-simulate",
        abstract: "Runs seeded delivery simulations (servers, clients, faults); exits non-zero with the seed on any violation.",
        discussion: """
        Examples:
          delivery-simulate --seeds 20000                 # seeds 1...20000
          delivery-simulate --seed 4242 --verbose         # replay one run exactly, with its trace
          delivery-simulate --seeds 200 --bug acknowledge-behind-gap   # show the checker catches a bug
        """,
        version: P2PCoreVersion.current
    )

    @Option(help: "How many seeds to run (starting at --first-seed).")
    var seeds = 100

    @Option(help: "First seed of the range.")
    var firstSeed: UInt64 = 1

    @Option(help: "Run exactly this seed (replay).")
    var seed: UInt64?

    @Option(help: "Faulty ticks per run.")
    var steps = 400

    @Option(help: "Servers (3 to 5); by default chosen from the seed.")
    var servers: Int?

    @Option(help: "Clients (3 to 6); by default chosen from the seed.")
    var clients: Int?

    @Option(help: "Inject a deliberate client bug: \(ClientBug.allCases.map(\.rawValue).joined(separator: ", ")).")
    var bug: String?

    @Option(help: "Directory for the temporary LMDB environments (default: /dev/shm if present, else /tmp).")
    var temporaryDirectory: String?

    @Flag(help: "Small per-sender quotas and store-wide totals too (owed skips; see DeliverySimulationOptions.tightQuotas).")
    var tightQuotas = false

    @Flag(help: "A message lost by a crash between recording its delivery and handing it over is a violation.")
    var strictHandOver = false

    @Option(help: "The applications receive in batches of up to this many messages (1: one at a time).")
    var receiveBatch = 1

    @Flag(help: "Print every seed's line (default: only failures and a total), and with --seed the whole trace.")
    var verbose = false

    @Flag(help: "Keep going after a failing seed (to count which seeds catch a bug).")
    var keepGoing = false

    func validate() throws {
        if let servers, !(1...9).contains(servers) { throw ValidationError("--servers must be 1 to 9") }
        if let clients, !(2...16).contains(clients) { throw ValidationError("--clients must be 2 to 16") }
        if steps < 0 { throw ValidationError("--steps must not be negative") }
    }

    func run() throws {
        let start = ContinuousClock.now
        let seedList: [UInt64] = seed.map { [$0] } ?? Array(firstSeed..<(firstSeed + UInt64(seeds)))
        var injected: ClientBug?
        if let bug {
            guard let parsed = ClientBug(rawValue: bug) else { throw ValidationError("unknown bug \(bug)") }
            injected = parsed
        }
        var failures: [UInt64] = []
        var totals = DeliverySummary()
        for current in seedList {
            var options = DeliverySimulationOptions(seed: current)
            options.steps = steps
            options.servers = servers
            options.clients = clients
            options.bug = injected
            options.tightQuotas = tightQuotas
            options.strictHandOver = strictHandOver
            options.receiveBatch = receiveBatch
            if let temporaryDirectory { options.temporaryDirectory = temporaryDirectory }
            options.verbose = verbose && seed != nil
            let simulation = DeliverySimulation(options: options)
            do {
                let summary = try simulation.run()
                for line in simulation.trace { print(line) }
                if verbose || seed != nil { print(summary.line(seed: current, result: "PASS")) }
                totals.add(summary)
            } catch {
                for line in simulation.trace { print(line) }
                print("seed=\(current) result=FAIL \(error)")
                failures.append(current)
                guard keepGoing else { throw ExitCode.failure }
            }
        }
        // A replay prints only what the run did (no timing), so that two replays are byte-identical.
        guard seed == nil else { return }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("""
        \(seedList.count - failures.count)/\(seedList.count) seeds passed in \((seconds * 10).rounded() / 10) s: \
        sent=\(totals.sent) accepted=\(totals.accepted) delivered=\(totals.delivered) direct=\(totals.direct) \
        relayed=\(totals.relayed) skips=\(totals.skips) refused=\(totals.refused) expired=\(totals.expired) \
        told-expired=\(totals.toldExpired) purged=\(totals.purged) \
        lost-at-hand-over=\(totals.handOverWindow) faults=\(totals.faults)
        """)
        if !failures.isEmpty {
            print("failing seeds: \(failures.map(String.init).joined(separator: " "))")
            throw ExitCode.failure
        }
    }
}
