/// The result of applying one ``MailboxCommand``; identical on every replica.
public enum MailboxOutcome: Equatable, Sendable {
    /// The message is in the mailbox (newly, or it already was: a retried enqueue).
    case stored
    /// The recipient already acknowledged this message: it was delivered.
    case alreadyDelivered
    /// The recipient's mailbox is at its limit; nothing was stored.
    case mailboxFull(messages: Int, bytes: Int)
    /// No client with the recipient's id was ever registered; nothing was stored.
    case unknownRecipient
    /// The client's id is bound to another public key; the registration was refused.
    case keyMismatch
    /// The command took effect.
    case done
    /// The message or client named by the command does not exist.
    case notFound
    /// A purge removed this many messages.
    case purged(count: Int)
    /// The recipient acknowledged a skip (a message refused for a full mailbox, or discarded by
    /// an operator): the skip is gone, nothing was delivered.
    case skipAcknowledged
    /// The log entry did not hold a valid command (it is skipped identically on every replica).
    case invalidCommand
}
