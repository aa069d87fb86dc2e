import AdminProtocol
import ArgumentParser

struct ClientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "Every client: online or not, attached servers, addresses, direct peers, mailbox depth and oldest message age.",
        discussion: """
        Examples:
          mailbox-admin clients
          mailbox-admin clients --json
        """
    )

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        guard case .clients(let clients) = try await connection.perform(.clients) else { throw AdminExit.fail(.notDone, "unexpected answer") }
        if json { return try printJSON(clients) }
        printTable(
            ["CLIENT", "STATE", "SERVERS", "WAN", "UDP", "LAN", "DIRECT PEERS", "MAILBOX", "OLDEST"],
            clients.map { client in
                [
                    "\(client.id)", client.online ? "online" : "offline (seen \(age(since: client.lastSeenMillis)) ago)",
                    "\(client.attachedServers.count)", client.wanAddresses.first ?? "-", client.udpAddress ?? "-",
                    client.lanAddresses.joined(separator: ",").isEmpty ? "-" : client.lanAddresses.joined(separator: ","),
                    client.directPeers.isEmpty ? "-" : client.directPeers.map { String("\($0)".prefix(8)) }.joined(separator: ","),
                    "\(client.mailboxMessages) (\(size(client.mailboxBytes)))", age(since: client.oldestMessageMillis),
                ]
            }
        )
    }
}
