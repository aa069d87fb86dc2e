import Delivery
import MessageModel
import P2PCore

/// A simulated client's durable ledger: it survives crashes, nothing else of the client does.
/// It carries out ``LedgerBatch``es as the client's LMDB ledger does (atomically, in order),
/// assigning each prepared message the next sequence towards its recipient.
struct SimulatedLedger {
    private(set) var nextSequence: [NodeID: UInt64] = [:]
    private(set) var outbox: [OutboxKey: OutboxEntry] = [:]
    private(set) var deliveredThrough: [NodeID: UInt64] = [:]

    /// Applies `batch` in one transaction; returns the ids given to its prepared messages.
    mutating func apply(_ batch: LedgerBatch, sender: NodeID) -> [MessageID] {
        var prepared: [MessageID] = []
        for operation in batch.operations {
            switch operation {
            case .prepare(let recipient, let payload, let expiresAt):
                let sequence = nextSequence[recipient] ?? 1
                nextSequence[recipient] = sequence + 1
                let id = MessageID(sender: sender, sequence: sequence)
                outbox[OutboxKey(recipient: recipient, id: id)] = OutboxEntry(recipient: recipient, id: id, payload: payload, expiresAt: expiresAt)
                prepared.append(id)
            case .resolve(let key):
                outbox[key] = nil
            case .oweSkip(let key):
                if let entry = outbox[key] { outbox[key] = OutboxEntry(recipient: entry.recipient, id: entry.id, payload: [], isSkip: true) }
            case .markDelivered(let id):
                deliveredThrough[id.sender] = max(deliveredThrough[id.sender] ?? 0, id.sequence)
            }
        }
        return prepared
    }

    /// What a restarted core is made from.
    var contents: LedgerContents {
        LedgerContents(outbox: outbox.keys.sorted().compactMap { outbox[$0] }, deliveredThrough: deliveredThrough)
    }
}

extension OutboxKey {
    init(_ message: MailMessage) {
        self.init(recipient: message.recipient, id: message.id)
    }
}
