import MessageModel
import P2PCore

extension ClientCore {
    /// A message this client sent, followed until its fate is definitive.
    struct Outgoing: Sendable {
        /// The message, or the owed skip that replaced it.
        var message: MailMessage
        var fate: Fate = .pending
        /// Whether its outbox entry is still in the ledger (no resolve asked yet).
        var inOutbox = true
        var attempt: Attempt = .waiting
        /// Bumped whenever `attempt` changes: a timer armed for an older epoch is moot.
        var epoch: UInt64 = 0
        /// Whether the direct path was tried (it is, once, when one is up and the message has no
        /// expiry); a relayed copy says so (``MailMessage/offeredDirectly``).
        var triedDirect = false
        /// Whether it was offered to a server: from then on it stays on the relay, since a server
        /// may have given the stored copy a default expiry (docs/DELIVERY.md, "Expiry").
        var relayOffered = false
        var backoff: Backoff
        /// The `send`s waiting for it, with their deadlines.
        var waiters: [SendToken: UInt64] = [:]

        init(message: MailMessage, backoff: Backoff) {
            self.message = message
            self.backoff = backoff
        }
    }

    enum Fate: Equatable, Sendable {
        /// Nothing definitive yet: retried until there is.
        case pending
        /// Committed to the recipient's mailbox: the cluster delivers it; only the
        /// acknowledgement is awaited (for the `send`s still waiting).
        case stored
    }

    enum Attempt: Equatable, Sendable {
        /// Offered on the direct path; the relay takes over at the attempt's deadline.
        case direct
        /// Offered to this server; retried after a pause if it does not answer in time.
        case relay(NodeID)
        /// Waiting for the next try (or, once stored, for nothing).
        case waiting
    }
}
