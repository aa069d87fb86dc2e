import AdminProtocol
import ArgumentParser

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Add a server to the cluster or remove one.",
        discussion: """
        Examples:
          mailbox-admin server add 10.0.0.4:7400
          mailbox-admin server remove F1EFD426-F055-4150-8771-D663E60BF20F
          mailbox-admin server safe-to-stop F1EFD426-F055-4150-8771-D663E60BF20F
        """,
        subcommands: [Add.self, Remove.self, SafeToStopCommand.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add the server listening at host:port; returns once it votes.",
            discussion: """
            The server must be running: either new (an empty data directory), or removed earlier.
            A new server started with any member as --peer joins by itself; this command is for a
            server started without peers or one that was removed.

            Examples:
              mailbox-admin server add 10.0.0.4:7400
            """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The server's host:port, as other servers reach it.") var address: String

        func run() async throws {
            guard case .done(let detail) = try await connection.perform(.addServer(address: address)) else {
                throw AdminExit.fail(.notDone, "unexpected answer")
            }
            print(detail)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a server from the cluster (its clients re-attach elsewhere).",
            discussion: """
            Examples:
              mailbox-admin server remove F1EFD426-F055-4150-8771-D663E60BF20F
            """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The server's id (see `mailbox-admin status`).") var server: String

        func run() async throws {
            let id = try parseID(server, "server id")
            guard case .done(let detail) = try await connection.perform(.removeServer(id)) else { throw AdminExit.fail(.notDone, "unexpected answer") }
            print(detail)
        }
    }
}

struct LeaderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leader",
        abstract: "Leadership commands.",
        discussion: """
        Examples:
          mailbox-admin leader transfer
        """,
        subcommands: [Transfer.self]
    )

    struct Transfer: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand leadership to a voter (by default the most up-to-date one); returns once it leads.",
            discussion: """
            Examples:
              mailbox-admin leader transfer
              mailbox-admin leader transfer F1EFD426-F055-4150-8771-D663E60BF20F
            """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The server to hand leadership to.") var server: String?

        func run() async throws {
            let target = try server.map { try parseID($0, "server id") }
            guard case .done(let detail) = try await connection.perform(.transferLeadership(target: target)) else {
                throw AdminExit.fail(.notDone, "unexpected answer")
            }
            print(detail)
        }
    }
}

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Snapshot the server's state and compact its Raft log.",
        discussion: """
        Acts on the server --server names (run it against each server to compact them all).

        Examples:
          mailbox-admin snapshot --server 10.0.0.2:7400
        """
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        guard case .done(let detail) = try await connection.perform(.snapshot) else { throw AdminExit.fail(.notDone, "unexpected answer") }
        print(detail)
    }
}
