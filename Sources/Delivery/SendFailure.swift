import P2PCore

/// Why a `send` did not end with the recipient's acknowledgement (the shell maps it to its
/// public error type). `.stored` and `.pending` mean the message will still be delivered.
public enum SendFailure: Error, Equatable, Sendable {
    /// The recipient's mailbox is full: a skip took the message's place.
    case mailboxFull(NodeID)
    /// No client with this id is known to the cluster.
    case unknownRecipient(NodeID)
    /// A server's size limit refused the payload.
    case tooLarge(size: Int, limit: Int)
    /// This client's quota in the recipient's mailbox is used up: not accepted (owed skip).
    case quotaExceeded(NodeID, limit: Int)
    /// The cluster's storage is full: not accepted (owed skip).
    case storageFull(limit: Int)
    /// The message expired before its recipient claimed it: the cluster decided, once, that it
    /// will never be delivered (docs/DELIVERY.md, "Expiry").
    case expired(MessageID)
    /// The deadline passed after the cluster stored the message.
    case stored(MessageID)
    /// The deadline passed before anyone confirmed the message; it stays in the outbox.
    case pending(MessageID)
    /// The ledger could not store the message: not accepted, no sequence number taken.
    case notPersisted
    /// The core was stopped.
    case stopped
}
