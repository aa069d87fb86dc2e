import ArgumentParser
import P2PCore

/// `p2pcore-chaos`: long fault-injection runs against real server and client processes, with a
/// checker that proves nothing was lost, duplicated, reordered or corrupted.
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2pcore-chaos",
        abstract: "Runs a seeded fault-injection scenario against real p2pcore processes and checks every delivery.",
        discussion: """
        Starts the servers and clients as processes on loopback, sends a randomized workload
        between the clients while a seeded schedule kills, pauses, restarts and wipes servers,
        restarts clients and moves leadership; then checks every send against every receive.
        Prints one summary line; exits non-zero on any violation (rerun with the same --seed).

        Examples:
          p2pcore-chaos --minutes 2 --seed 7
          p2pcore-chaos --minutes 30 --clients 6 --seed 1234
        """,
        version: P2PCoreVersion.current,
        subcommands: [ScenarioCommand.self, MultiLANCommand.self, ServerNATCommand.self, ChaosClientCommand.self, RelayCountCommand.self],
        defaultSubcommand: ScenarioCommand.self
    )
}
