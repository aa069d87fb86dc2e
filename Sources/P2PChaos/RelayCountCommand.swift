import ArgumentParser
import ClusterHarness

/// `p2pcore-chaos relay-count`: prints how many messages the servers relayed (used by
/// `multilan` from inside the WAN namespace).
struct RelayCountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-count",
        abstract: "Prints the sum of the servers' relayed-message counters (used by multilan)."
    )

    @Option(help: "The servers, comma-separated host:port.") var servers: String
    @Option var adminSecret: String

    func run() async throws {
        print(try await RelayCounters.relayedMessages(at: servers.split(separator: ",").map(String.init), adminSecret: adminSecret))
    }
}
