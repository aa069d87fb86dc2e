/// The result of applying one ``MailboxCommand``; identical on every replica.
public enum MailboxOutcome: Equatable, Sendable {
    /// The message is in the mailbox (newly, or it already was: a retried enqueue).
    case stored
    /// The recipient already acknowledged this message: it was delivered.
    case alreadyDelivered
    /// The recipient's mailbox is at its limit: a skip took the message's place (the recipient
    /// passes over its id), the payload was not stored. `messages`/`bytes`: the mailbox's
    /// real messages and their payload bytes.
    case mailboxFull(messages: Int, bytes: Int)
    /// The sender already has `limit` items (messages and skips) in the recipient's mailbox:
    /// nothing was stored, not even a skip. The sender still owes the recipient a skip for the
    /// id (see docs/DELIVERY.md).
    case senderQuotaExceeded(limit: Int)
    /// All mailboxes together are at ``MailboxLimits/maximumTotalBytes``: nothing was stored,
    /// not even a skip. The sender still owes the recipient a skip for the id.
    case storageFull(limit: Int)
    /// No client with the recipient's id was ever registered; nothing was stored.
    case unknownRecipient
    /// The client's id is bound to another public key; the registration was refused.
    case keyMismatch
    /// A registration with a field or count over ``ClientRecord/Limits`` was refused.
    case fieldOverLimit(field: String, limit: Int)
    /// The command took effect.
    case done
    /// The message or client named by the command does not exist.
    case notFound
    /// A purge removed this many messages.
    case purged(count: Int)
    /// The recipient acknowledged a skip (a message refused for a full mailbox, or discarded by
    /// an operator): the skip is gone, nothing was delivered.
    case skipAcknowledged
    /// The message expired (now, or earlier: a retry learns the same): it will never be
    /// delivered, and its recipient passes over its id (docs/DELIVERY.md, "Expiry").
    case expired
    /// The recipient claimed the message: it can no longer expire, and may be delivered.
    case claimed
    /// The id's record is a skip (refused, purged or deleted): the recipient passes over it.
    case skipped
    /// An operator removed the server (``MailboxCommand/retireServer(_:)``): its own
    /// registration was refused; only an operator adds it back.
    case serverRetired
    /// The outcomes of a ``MailboxCommand/batch(_:)``, in order.
    case batch([MailboxOutcome])
    /// The log entry did not hold a valid command (it is skipped identically on every replica).
    case invalidCommand
}
