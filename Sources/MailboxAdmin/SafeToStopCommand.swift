import AdminProtocol
import ArgumentParser

/// `mailbox-admin server safe-to-stop <id>`: the check before stopping a server for maintenance.
struct SafeToStopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safe-to-stop",
        abstract: "Whether stopping a server keeps a quorum of reachable, caught-up voters; exits 0 if so, 1 if not.",
        discussion: """
        The server asked gathers every member's status and counts the voters other than the one
        named that are reachable, know the leader and have applied what is committed. Stopping
        is safe when they alone form a quorum. Also says whether the named server is ready itself.

        Examples:
          mailbox-admin server safe-to-stop F1EFD426-F055-4150-8771-D663E60BF20F && systemctl stop p2pcore
          mailbox-admin server safe-to-stop F1EFD426-F055-4150-8771-D663E60BF20F --json
        """
    )

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The server's id (see `mailbox-admin status`).") var server: String
    @Flag(help: "Print JSON instead of a sentence.") var json = false

    func run() async throws {
        let id = try parseID(server, "server id")
        guard case .safeToStop(let report) = try await connection.perform(.safeToStop(id)) else {
            throw AdminExit.fail(.notDone, "unexpected answer")
        }
        if json { try printJSON(report) } else { print(report.explanation) }
        if !report.safe { throw ExitCode(AdminExit.notDone.rawValue) }
    }
}
