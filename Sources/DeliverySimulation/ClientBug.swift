import ClientProtocol
import Mailbox
import P2PCore

/// A deliberate client bug the simulator can inject around any client core (by rewriting its
/// directives), to show that the checker catches what such a bug breaks.
public enum ClientBug: String, CaseIterable, Sendable {
    /// Hands a message to the application before the ledger records it taken: a crash in
    /// between makes the message come again, and it is handed over twice.
    case handOverBeforeLedger = "hand-over-before-ledger"
    /// Acknowledges a message held behind a gap at once: a crash (or an evicted buffer) then
    /// loses it, since its sender and the mailbox consider it delivered.
    case acknowledgeBehindGap = "acknowledge-behind-gap"
    /// Lets a relayed copy through after the direct copy of the same id was handed over.
    case relayedCopyAfterDirect = "relayed-copy-after-direct"
}

/// What a simulated client does: a core's directive, or (for a bug) just drop an inbox entry.
enum ClientAction {
    case run(ClientDirective)
    case discardFromInbox(MessageID)
}

/// What a bug remembers (kept across the client's crashes: it is the bug's, not the client's).
struct ClientBugState {
    var handedEarly: Set<MessageID> = []
    var handedDirectly: Set<MessageID> = []
}

extension ClientBug {
    /// The directives the buggy client executes instead of `directives`, for `input`.
    func rewrite(_ directives: [ClientDirective], for input: ClientInput, ledger: ClientLedger,
                 state: inout ClientBugState) -> [ClientAction] {
        switch self {
        case .handOverBeforeLedger:
            var result: [ClientAction] = []
            for directive in directives {
                switch directive {
                case .write(.receive(let message), _) where !message.isSkip:
                    state.handedEarly.insert(message.id)
                    result.append(.run(.handOver(message, path: .relay(message.recipient))))
                    result.append(.run(directive))
                case .handOver(let message, _) where state.handedEarly.contains(message.id):
                    // Already handed over: only its inbox entry goes.
                    state.handedEarly.remove(message.id)
                    result.append(.discardFromInbox(message.id))
                default:
                    result.append(.run(directive))
                }
            }
            return result
        case .acknowledgeBehindGap:
            let early: ClientDirective?
            switch input {
            case .fromPeer(let peer, .message(let message)) where isBehindGap(message, ledger):
                early = .toPeer(peer, .acknowledge(message.id))
            case .fromServer(let server, .deliver(let message)) where isBehindGap(message, ledger):
                early = .toServer(server, .acknowledge(message.id))
            default:
                early = nil
            }
            return (early.map { [$0] } ?? []).map(ClientAction.run) + directives.map(ClientAction.run)
        case .relayedCopyAfterDirect:
            for case .handOver(let message, .direct) in directives { state.handedDirectly.insert(message.id) }
            if case .fromServer(let server, .deliver(let message)) = input, state.handedDirectly.contains(message.id) {
                state.handedDirectly.remove(message.id)
                return (directives + [.handOver(message, path: .relay(server))]).map(ClientAction.run)
            }
            return directives.map(ClientAction.run)
        }
    }

    private func isBehindGap(_ message: MailMessage, _ ledger: ClientLedger) -> Bool {
        message.id.sequence > (ledger.deliveredThrough[message.id.sender] ?? 0) + 1
    }
}
