import ArgumentParser

/// `mailbox-admin`: the operator's CLI for a p2pcore cluster.
@main
struct MailboxAdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox-admin",
        abstract: "Inspect and repair a p2pcore cluster: servers, clients, mailboxes, membership.",
        discussion: """
        Talks to a server through its local admin socket (--data-dir, default ./p2pcore-data; run as
        the server's user), or to a remote server (--server host:port, or P2PCORE_SERVER) with the
        admin secret (--admin-secret-file, or P2PCORE_ADMIN_SECRET). Read commands take --json.

        Exit codes: 0 ok; 1 not done (cluster unhealthy or unavailable, or declined);
        2 not found; 3 server unreachable; 4 unauthorized (wrong or missing admin secret); 64 bad usage.

        Examples:
          mailbox-admin status
          mailbox-admin clients --server 10.0.0.1:7400 --json
          mailbox-admin mailbox show 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4 --peek 5 --payload
          mailbox-admin server add 10.0.0.4:7400
          mailbox-admin leader transfer
          mailbox-admin path <client-a> <client-b>
        """,
        version: "0.1.0",
        subcommands: [
            StatusCommand.self, ClientsCommand.self, MailboxCommand.self, ServerCommand.self,
            LeaderCommand.self, SnapshotCommand.self, PathCommand.self,
        ]
    )
}
