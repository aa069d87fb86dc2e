import MessageModel
import P2PCore

/// A recipient's delivery ledger, in memory, with the real client's semantics (docs/DELIVERY.md,
/// "Recipient"): per sender it delivers only `deliveredThrough + 1`, keeps later ones in a
/// bounded buffer (not acknowledged, so the server pushes them again), acknowledges duplicates
/// again without delivering them, and passes over skips.
struct DeliveryLedger: Sendable {
    /// What to do with a pushed message.
    struct Outcome: Equatable, Sendable {
        /// Messages handed to the "application" now (in order; skips are not counted).
        var delivered = 0
        /// Duplicates recognised (acknowledged again, not delivered).
        var duplicates = 0
        /// Ids to acknowledge now.
        var acknowledge: [MessageID] = []
    }

    /// Out-of-order messages kept per sender at most (beyond, they wait for the next push).
    static let bufferLimit = 256

    private var deliveredThrough: [NodeID: UInt64] = [:]
    private var buffered: [NodeID: [UInt64: MailMessage]] = [:]

    /// Messages delivered so far (skips not counted).
    private(set) var deliveredCount = 0

    /// Takes one pushed message.
    mutating func receive(_ message: MailMessage) -> Outcome {
        var outcome = Outcome()
        let sender = message.id.sender
        let through = deliveredThrough[sender, default: 0]
        if message.id.sequence <= through {
            outcome.duplicates = 1
            outcome.acknowledge = [message.id]
            return outcome
        }
        guard message.id.sequence == through + 1 else {
            if buffered[sender, default: [:]].count < Self.bufferLimit { buffered[sender, default: [:]][message.id.sequence] = message }
            return outcome
        }
        var next: MailMessage? = message
        var position = through
        while let current = next {
            position = current.id.sequence
            if !current.isSkip { outcome.delivered += 1 }
            outcome.acknowledge.append(current.id)
            next = buffered[sender]?.removeValue(forKey: position + 1)
        }
        if buffered[sender]?.isEmpty == true { buffered[sender] = nil }
        deliveredThrough[sender] = position
        deliveredCount += outcome.delivered
        return outcome
    }
}
