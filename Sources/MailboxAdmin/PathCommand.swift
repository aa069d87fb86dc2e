import AdminProtocol
import ArgumentParser
import Foundation

struct PathCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "path",
        abstract: "Why two clients are or are not linked directly: each side's NAT, the current path, the last attempt, RTT and loss.",
        discussion: """
        Each side's NAT behaviour is inferred from the UDP mappings every server observed for the
        client's socket: different mappings at different servers mean an endpoint-dependent
        (symmetric) NAT, which hole punching cannot pass; the same mapping everywhere an
        endpoint-independent (cone) NAT; the client's own address no NAT. The path, the last
        attempt, RTT and loss are client-reported (untrusted diagnostics).

        Examples:
          mailbox-admin path 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4 0B7E2C11-95A4-4C8E-9A51-3F0C2D6E7A10
          mailbox-admin path <a> <b> --json
        """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "One client's id.") var a: String
    @Argument(help: "The other client's id.") var b: String
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() async throws {
        let (a, b) = (try parseID(self.a, "client"), try parseID(self.b, "client"))
        guard case .path(let diagnosis) = try await connection.perform(.path(a, b)) else { throw AdminExit.fail(.notDone, "unexpected answer") }
        if json { return try printJSON(diagnosis) }
        print("verdict: \(diagnosis.verdict)")
        print("path:    \(diagnosis.path.rawValue)")
        for (label, side) in [("a", diagnosis.a), ("b", diagnosis.b)] {
            print("")
            print("client \(label): \(side.client) (\(side.online ? "online" : "offline"))")
            print("  NAT: \(side.behaviour.rawValue): \(side.behaviour.phrase)")
            print("       \(side.explanation)")
            print("  LAN addresses: \(side.lanAddresses.isEmpty ? "-" : side.lanAddresses.joined(separator: ", "))")
            for observation in side.observations {
                print("  server \(observation.server) observed \(observation.mapping) (\(Int(exactly: observation.ageSeconds.rounded(.down)).map { "\($0)" } ?? "?")s ago)")
            }
        }
        print("")
        print("client-reported (untrusted diagnostics):")
        if diagnosis.reports.isEmpty { print("  none") }
        for report in diagnosis.reports {
            var line = "  \(report.reporter) → \(report.peer): \(report.path.rawValue)"
            if let rtt = report.rttMillis { line += String(format: ", rtt %.1f ms", rtt) }
            if let loss = report.lossPercent { line += String(format: ", loss %.1f%%", loss) }
            line += " (reported \(age(since: report.reportedAtMillis)) ago to \(report.server))"
            print(line)
            if let attempt = report.lastAttempt {
                print("    last attempt \(attempt.kind), \(age(since: attempt.atMillis)) ago: \(attempt.succeeded ? "succeeded" : "failed"): \(attempt.reason)")
            }
        }
    }
}
