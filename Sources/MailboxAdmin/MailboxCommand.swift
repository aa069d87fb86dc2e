import AdminProtocol
import ArgumentParser
import Foundation
import P2PCore

struct MailboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox",
        abstract: "Show, purge or delete from one client's mailbox.",
        discussion: """
        Examples:
          mailbox-admin mailbox show 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4 --limit 5
          mailbox-admin mailbox purge 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4 --yes
        """,
        subcommands: [Show.self, Purge.self, Delete.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Depth, bytes and a page of the messages of a client's mailbox, oldest first.",
            discussion: """
            Lists the first --limit messages (default 20, at most \(AdminRequest.maximumPageSize)) and, when more
            follow, the command that lists the next page (--after takes the number it prints).

            Examples:
              mailbox-admin mailbox show 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4
              mailbox-admin mailbox show 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4 --limit 10 --payload
              mailbox-admin mailbox show 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4 --limit 10 --after 4711
            """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The client's id.") var client: String
        @Option(name: [.customLong("limit"), .customLong("peek")], help: "How many messages to list (0: only the totals).") var limit = 20
        @Option(help: "List the messages after this place in the mailbox (printed with the previous page).") var after: UInt64?
        @Flag(help: "Show each listed message's payload (as text when it is UTF-8, else hex).") var payload = false
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let id = try parseID(client, "client id")
            guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
            guard case .mailbox(let report) = try await connection.perform(.mailbox(client: id, peek: limit, after: after)) else {
                throw AdminExit.fail(.notDone, "unexpected answer")
            }
            if json { return try printJSON(report) }
            print("mailbox of \(report.client): \(report.messages) message\(report.messages == 1 ? "" : "s"), \(size(report.bytes)), oldest \(age(since: report.oldestMessageMillis))")
            if !report.peek.isEmpty {
                print("")
                printTable(
                    ["MESSAGE", "SENDER", "SIZE", "AGE", "EXPIRES"] + (payload ? ["PAYLOAD"] : []),
                    report.peek.map { message in
                        ["\(message.id.sequence)", "\(message.sender)", size(message.size), age(since: message.enqueuedAtMillis), Self.expiry(message.expiresAtMillis)]
                            + (payload ? [Self.render(message.payload)] : [])
                    }
                )
            }
            if let next = report.next {
                print("")
                print("more messages follow: mailbox-admin mailbox show \(id) --limit \(limit) --after \(next)")
            }
        }

        /// "never", "in 42s" (by this host's clock), or "due" once it passed (the leader expires it
        /// at its next sweep, unless the recipient claimed it first).
        static func expiry(_ millis: UInt64?) -> String {
            guard let millis else { return "never" }
            let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
            guard millis > now else { return "due" }
            let seconds = (millis - now + 999) / 1000
            switch seconds {
            case ..<120: return "in \(seconds)s"
            case ..<7200: return "in \(seconds / 60)m"
            case ..<172_800: return "in \(seconds / 3600)h"
            default: return "in \(seconds / 86_400)d"
            }
        }

        static func render(_ bytes: [UInt8]) -> String {
            if let text = String(validating: bytes, as: UTF8.self), !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\t" }) {
                return text
            }
            return bytes.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove every message of a client's mailbox (through Raft, on every server).",
            discussion: """
            Examples:
              mailbox-admin mailbox purge 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4
              mailbox-admin mailbox purge 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4 --yes
            """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The client's id.") var client: String
        @Flag(help: "Do not ask for confirmation.") var yes = false

        func run() async throws {
            let id = try parseID(client, "client id")
            if !yes {
                guard case .mailbox(let report) = try await connection.perform(.mailbox(client: id, peek: 0)) else {
                    throw AdminExit.fail(.notDone, "unexpected answer")
                }
                guard confirm("Purge \(report.messages) message\(report.messages == 1 ? "" : "s") (\(size(report.bytes))) from \(id)'s mailbox?") else {
                    throw AdminExit.fail(.notDone, "not purged")
                }
            }
            guard case .done(let detail) = try await connection.perform(.purge(client: id)) else { throw AdminExit.fail(.notDone, "unexpected answer") }
            print(detail)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove one message from a client's mailbox (through Raft, on every server).",
            discussion: """
            The message is named by its sender and sequence number, as `mailbox show` lists them.

            Examples:
              mailbox-admin mailbox delete 6D535D9C-7C0A-4F17-8F4E-7E17B9DB6BF4 F1EFD426-F055-4150-8771-D663E60BF20F#17 --yes
            """
        )

        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The client's id.") var client: String
        @Argument(help: "The message id: <sender-id>#<sequence>.") var message: String
        @Flag(help: "Do not ask for confirmation.") var yes = false

        func run() async throws {
            let id = try parseID(client, "client id")
            let parts = message.split(separator: "#")
            guard parts.count == 2, let sender = NodeID(uuidString: String(parts[0])), let sequence = UInt64(parts[1]) else {
                throw ValidationError("message id must be <sender-id>#<sequence>, got '\(message)'")
            }
            let messageID = MessageID(sender: sender, sequence: sequence)
            if !yes, !confirm("Delete message \(messageID) from \(id)'s mailbox?") {
                throw AdminExit.fail(.notDone, "not deleted")
            }
            guard case .done(let detail) = try await connection.perform(.delete(client: id, message: messageID)) else {
                throw AdminExit.fail(.notDone, "unexpected answer")
            }
            print(detail)
        }
    }
}
