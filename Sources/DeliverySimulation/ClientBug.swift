import Delivery
import MessageModel
import P2PCore

/// A deliberate client bug the simulator can inject around the delivery core (by rewriting its
/// directives, never by editing it), to show that the checker catches what such a bug breaks.
public enum ClientBug: String, CaseIterable, Sendable {
    /// Hands a message to the application before the ledger records it delivered: a crash in
    /// between makes the message come again, and it is handed over twice.
    case handOverBeforeLedger = "hand-over-before-ledger"
    /// Acknowledges a message held behind a gap at once: a crash then loses it, since its
    /// sender and the mailbox consider it delivered.
    case acknowledgeBehindGap = "acknowledge-behind-gap"
    /// Lets a relayed copy through after the direct copy of the same id was handed over.
    case relayedCopyAfterDirect = "relayed-copy-after-direct"
}

/// What a simulated client does: a core's directive, or what a bug does instead.
enum ClientAction {
    case run(ClientCore.Directive)
    /// Hands a message to the application (a bug's own hand-over).
    case handOverEarly(MailMessage)
    /// Nothing for the application: the bug swallowed the core's hand-over of this message.
    case swallowHandOver(MailMessage)
}

/// What a bug remembers (kept across the client's crashes: it is the bug's, not the client's).
struct ClientBugState {
    var copies: [MessageID: MailMessage] = [:]
    var handedEarly: Set<MessageID> = []
    var directCopies: Set<MessageID> = []
    var handedDirectly: Set<MessageID> = []
}

extension ClientBug {
    /// The actions the buggy client carries out instead of `directives`, for `input`.
    func rewrite(_ directives: [ClientCore.Directive], for input: ClientCore.Input, ledger: SimulatedLedger,
                 state: inout ClientBugState) -> [ClientAction] {
        switch self {
        case .handOverBeforeLedger:
            switch input {
            case .relayedMessage(let message, _), .directMessage(let message, _):
                state.copies[message.id] = message
            default:
                break
            }
            var actions: [ClientAction] = []
            for directive in directives {
                if case .persist(let batch) = directive {
                    for case .markDelivered(let id) in batch.operations {
                        guard let message = state.copies[id], !message.isSkip else { continue }
                        state.handedEarly.insert(id)
                        actions.append(.handOverEarly(message))
                    }
                }
                if case .handOver(let message) = directive, state.handedEarly.remove(message.id) != nil {
                    // Handed over already: the application is not given it again.
                    actions.append(.swallowHandOver(message))
                    continue
                }
                actions.append(.run(directive))
            }
            return actions
        case .acknowledgeBehindGap:
            var early: [ClientAction] = []
            switch input {
            case .relayedMessage(let message, let server) where isBehindGap(message, ledger):
                early = [.run(.acknowledgeRelayed(message.id, to: server))]
            case .directMessage(let message, let link) where isBehindGap(message, ledger):
                early = [.run(.acknowledgeDirect(message.id, on: link))]
            default:
                break
            }
            return early + directives.map(ClientAction.run)
        case .relayedCopyAfterDirect:
            if case .directMessage(let message, _) = input { state.directCopies.insert(message.id) }
            for case .handOver(let message) in directives where state.directCopies.contains(message.id) {
                state.handedDirectly.insert(message.id)
            }
            if case .relayedMessage(let message, _) = input, !message.isSkip, state.handedDirectly.remove(message.id) != nil {
                return directives.map(ClientAction.run) + [.handOverEarly(message)]
            }
            return directives.map(ClientAction.run)
        }
    }

    private func isBehindGap(_ message: MailMessage, _ ledger: SimulatedLedger) -> Bool {
        message.id.sequence > (ledger.deliveredThrough[message.id.sender] ?? 0) + 1
    }
}
