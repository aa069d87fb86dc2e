import AdminProtocol
import ArgumentParser

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Every server's role, leader, term, commit and applied index; whether the cluster is healthy.",
        discussion: """
        Exits 0 when the cluster is healthy (one leader that every reachable server agrees on, a
        majority of voters reachable), 1 otherwise.

        Examples:
          mailbox-admin status
          mailbox-admin status --json | jq '.servers[] | select(.role == "leader")'
        """
    )

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        guard case .status(let status) = try await connection.perform(.status) else { throw AdminExit.fail(.notDone, "unexpected answer") }
        if json {
            try printJSON(status)
        } else {
            printTable(
                ["SERVER", "ADDRESS", "ROLE", "VOTER", "TERM", "COMMIT", "APPLIED", "LEADER"],
                status.servers.map { server in
                    [
                        "\(server.id)", server.address, server.role, server.voter ? "yes" : "no",
                        server.reachable ? "\(server.term)" : "-", server.reachable ? "\(server.commitIndex)" : "-",
                        server.reachable ? "\(server.appliedIndex)" : "-", server.leader.map { "\($0)" } ?? "-",
                    ]
                }
            )
            let links = status.servers.flatMap { server in
                server.links.map { link in
                    [
                        "\(server.id)", "\(link.peer)", link.kind.rawValue + (link.via.map { " via \($0)" } ?? ""),
                        link.kind == .tcpOut || link.kind == .tcpIn || link.kind == .udpPunched ? "" : link.reason ?? "",
                    ]
                }
            }
            if !links.isEmpty {
                print("")
                printTable(["SERVER", "PEER", "LINK", "WHY NOT DIRECT"], links)
            }
            print("")
            print(status.healthy ? "cluster healthy: leader \(status.leader.map { "\($0)" } ?? "-")" : "cluster UNHEALTHY: " + status.problems.joined(separator: "; "))
        }
        if !status.healthy { throw ExitCode(AdminExit.notDone.rawValue) }
    }
}
