import ArgumentParser

/// `mailbox-admin`: the operator's CLI for a p2pcore cluster.
@main
struct MailboxAdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox-admin",
        abstract: "Inspect and repair a p2pcore cluster (status, clients, mailboxes, membership).",
        discussion: "The admin API arrives with the server cluster; this build only prints its version."
    )

    @Flag(help: "Print the version.")
    var version = false

    func run() throws {
        print("mailbox-admin 0.1.0 (admin commands arrive with the server cluster)")
    }
}
