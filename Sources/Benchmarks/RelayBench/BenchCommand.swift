import ArgumentParser
import Logging
import P2PCore

/// `p2pcore-bench`: the relay/direct measurement (the default, so `p2pcore-bench --mode relay …`
/// works as before), the scale measurement with thousands of simulated clients, and the
/// queued-messages measurement.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2pcore-bench",
        abstract: "Benchmarks of p2pcore against real p2pcore-server processes on loopback.",
        discussion: """
            relay (default): sends between two clients, through the relay or a direct link.
            scale: N simulated clients attached to 3 servers: attach time, reconnect storm, \
            memory and idle CPU per server, relayed throughput.
            queued: a million queued messages: restart, adding a server, draining.
            """,
        version: P2PCoreVersion.current,
        subcommands: [RelayBench.self, ScaleCommand.self, QueuedCommand.self, ScaleWorkerCommand.self],
        defaultSubcommand: RelayBench.self
    )

    /// Warnings and above on stderr (the servers' logs go to the cluster log, not here).
    static func bootstrapLogging() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
    }
}
