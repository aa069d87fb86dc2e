import ClientProtocol
import Mailbox
import MessageModel
import P2PCore
import Raft

/// A place frames travel between: a server or a client, by its position in the run.
enum Endpoint: Hashable, Comparable, CustomStringConvertible {
    case server(Int)
    case client(Int)

    var description: String {
        switch self {
        case .server(let index): "s\(index)"
        case .client(let index): "c\(index)"
        }
    }
}

/// What travels on a direct client↔client link.
public enum DirectFrame: Equatable, Sendable {
    case message(MailMessage)
    case acknowledge(MessageID)
}

/// What travels between servers besides Raft: commands a follower passes to the leader.
enum ServerFrame {
    /// `reply`: whether the leader answers with the outcome (sends) or not (acknowledgements).
    case forward(request: UInt64, command: MailboxCommand, reply: Bool)
    /// `nil`: not committed (no longer leader, or leadership changed): the caller retries.
    case forwardReply(request: UInt64, outcome: MailboxOutcome?)
}

/// One frame on the simulated network.
enum SimulatedFrame {
    case raft(RaftMessage)
    case server(ServerFrame)
    case request(ClientRequest)
    case push(ServerPush)
    case direct(DirectFrame)
}
