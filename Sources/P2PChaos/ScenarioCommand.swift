import AdminProtocol
import ArgumentParser
import ClusterHarness
import Foundation
import Logging
import P2PCore
import Synchronization

/// The scenario: servers and clients as processes, a workload, a fault schedule, the checks.
struct ScenarioCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Runs one scenario (the default).")

    @Option(help: "How long the workload and faults run.") var minutes: Double = 2
    @Option(help: "Seed of the workload and fault schedule (default: random, printed).") var seed: UInt64?
    @Option(help: "Number of servers.") var servers = 3
    @Option(help: "Number of client processes.") var clients = 6
    @Option(help: "Seconds between faults, at least.") var faultEvery: Double = 3
    @Option(help: "The p2pcore-server binary (default: the one built beside this program).") var server: String?
    @Flag(help: "Print each fault as it happens.") var verbose = false
    @Flag(help: "Keep the servers on loopback even as root (no network namespaces, no partitions).") var loopback = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let seed = self.seed ?? UInt64.random(in: 1...UInt64.max)
        let network: ServerNetwork?
        if !loopback, ServerNetwork.isAvailable {
            network = try ServerNetwork.create(servers: servers)
        } else {
            network = nil
            if !loopback, let reason = ServerNetwork.unavailableReason {
                print("note: servers on loopback, partitions by pausing only (\(reason))")
            }
        }
        let runner = try await ScenarioRunner.start(
            seed: seed, servers: servers, clients: clients, network: network,
            serverBinary: server ?? LocalCluster.siblingBinary,
            chaosBinary: URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path,
            verbose: verbose
        )
        let summary = await runner.run(for: .milliseconds(Int(minutes * 60_000)), faultEvery: faultEvery)
        print(summary.line)
        if !summary.passed {
            for violation in summary.violations.prefix(20) { print("  violation: \(violation)") }
            print("replay with: Scripts/chaos --minutes \(minutes) --seed \(seed)")
            throw ExitCode(1)
        }
    }
}
