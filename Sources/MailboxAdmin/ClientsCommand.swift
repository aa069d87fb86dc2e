import AdminProtocol
import ArgumentParser
import Foundation
import P2PCore

struct ClientsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clients",
        abstract: "Every client: online or not, attached servers, addresses, direct peers, mailbox depth and oldest message age.",
        discussion: """
        Servers answer a page of at most \(AdminRequest.maximumPageSize) clients at a time, ordered by id. Without
        --limit every page is fetched and listed; with it, one page, and the command to get the next.

        Examples:
          mailbox-admin clients
          mailbox-admin clients --json
          mailbox-admin clients --limit 100
          mailbox-admin clients --limit 100 --after 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4
        """
    )

    @OptionGroup var connection: ConnectionOptions
    @Flag(help: "Print JSON instead of a table.") var json = false
    @Option(help: "List one page of at most this many clients (the server caps it at \(AdminRequest.maximumPageSize)).") var limit: Int?
    @Option(help: "Start after this client id (the cursor a previous page printed).") var after: String?

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() async throws {
        var cursor = try after.map { try parseID($0, "--after") }
        var clients: [ClientSummary] = []
        var next: NodeID?
        repeat {
            let asked = limit.map { $0 - clients.count } ?? AdminRequest.maximumPageSize
            guard case .clientPage(let page, let following) = try await connection.perform(.clientPage(after: cursor, limit: asked)) else {
                throw AdminExit.fail(.notDone, "unexpected answer")
            }
            clients += page
            next = following
            cursor = following
        } while next != nil && limit.map({ clients.count < $0 }) ?? true
        if json {
            try printJSON(clients)
        } else {
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
        // The hint goes to standard error, so that JSON output stays one document.
        if let next, let limit {
            FileHandle.standardError.write(Data("more clients follow: mailbox-admin clients --limit \(limit) --after \(next)\n".utf8))
        }
    }
}
