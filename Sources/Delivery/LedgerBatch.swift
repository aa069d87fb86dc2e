import P2PCore

/// Writes a client core asks of its durable ledger, in order, in one transaction
/// (``ClientCore/Directive/persist(_:)``). The executor answers with
/// ``ClientCore/Input/persisted(batch:prepared:)`` once the transaction is durable, or
/// ``ClientCore/Input/persistFailed(batch:)``. Batches must be applied in the order they were
/// emitted; an executor may write several consecutive ones in one transaction (one sync for
/// many concurrent sends) and then confirm each.
public struct LedgerBatch: Equatable, Sendable {
    /// Numbers the batches of one core: 1, 2, 3, … in emission order.
    public let number: UInt64
    public var operations: [LedgerOperation]

    public init(number: UInt64, operations: [LedgerOperation]) {
        self.number = number
        self.operations = operations
    }

    /// Whether the batch records a delivery: the core waits for it before anything reaches the
    /// application, so an executor should not hold such a batch back to batch it with others.
    public var recordsDelivery: Bool {
        operations.contains { if case .markDelivered = $0 { true } else { false } }
    }

    /// Whether the batch only removes outbox entries whose fate is known. Nothing waits for it:
    /// lost in a crash, those messages are offered again and deduplicated by id — so an executor
    /// may hold it back and write it with the next batch.
    public var isCleanup: Bool {
        !operations.isEmpty && operations.allSatisfy { if case .resolve = $0 { true } else { false } }
    }
}

/// One ledger write.
public enum LedgerOperation: Equatable, Sendable {
    /// Give `payload` the next sequence number towards `recipient` and store it in the outbox.
    /// The assigned ids come back, in order of these operations, in ``ClientCore/Input/persisted(batch:prepared:)``.
    /// `expiresAt`: the message's expiry (milliseconds since 1970), kept with it.
    case prepare(recipient: NodeID, payload: [UInt8], expiresAt: UInt64? = nil)
    /// The message's fate is definitive: remove its outbox entry (message or owed skip).
    case resolve(OutboxKey)
    /// The cluster refused the message without a trace: drop its payload and keep the id as an
    /// owed skip (see docs/DELIVERY.md, "Owed skips").
    case oweSkip(OutboxKey)
    /// `id` was handed to the application: it is its sender's new delivered watermark (it is
    /// always the sender's watermark + 1).
    case markDelivered(MessageID)
}

/// One entry of the durable outbox: a message (or owed skip) whose fate is not definitive yet.
public struct OutboxEntry: Equatable, Sendable {
    public let recipient: NodeID
    public let id: MessageID
    public let payload: [UInt8]
    /// An owed skip (empty payload): the message was given up, its id must still be filled.
    public let isSkip: Bool
    /// The message's expiry (milliseconds since 1970), if it has one.
    public let expiresAt: UInt64?

    public init(recipient: NodeID, id: MessageID, payload: [UInt8], isSkip: Bool = false, expiresAt: UInt64? = nil) {
        self.recipient = recipient
        self.id = id
        self.payload = payload
        self.isSkip = isSkip
        self.expiresAt = isSkip ? nil : expiresAt
    }

    public var key: OutboxKey { OutboxKey(recipient: recipient, id: id) }
}

/// What a client's ledger holds: a restarted client is a new ``ClientCore`` made from it.
public struct LedgerContents: Equatable, Sendable {
    /// Every outbox entry, owed skips included.
    public var outbox: [OutboxEntry]
    /// Per sender, the highest sequence handed to the application (absent: 0).
    public var deliveredThrough: [NodeID: UInt64]

    public init(outbox: [OutboxEntry] = [], deliveredThrough: [NodeID: UInt64] = [:]) {
        self.outbox = outbox
        self.deliveredThrough = deliveredThrough
    }
}
