import Delivery
import P2PCore

/// Carries out the client core's ledger writes (``LedgerBatch``es) on the ``ClientLedger``.
///
/// Batches queue up and are written together, in order, in one transaction: concurrent sends
/// share one LMDB sync. A batch recording a delivery is written at once (with whatever queued
/// before it), since the application waits for it.
struct LedgerExecutor {
    let ledger: ClientLedger
    private var queued: [LedgerBatch] = []
    /// The error of the last failed write (what a refused `send` throws).
    private(set) var lastError: (any Error)?

    init(ledger: ClientLedger) {
        self.ledger = ledger
    }

    var isEmpty: Bool { queued.isEmpty }

    /// Queues `batch`; `true` when it must be written now rather than batched with later ones.
    mutating func enqueue(_ batch: LedgerBatch) -> Bool {
        queued.append(batch)
        return batch.recordsDelivery
    }

    /// Writes everything queued; returns the core's confirmations, in order.
    mutating func flush() -> [ClientCore.Input] {
        let batches = queued
        queued.removeAll()
        guard !batches.isEmpty else { return [] }
        do {
            let assigned = try ledger.commit(batches)
            return zip(batches, assigned).map { .persisted(batch: $0.number, prepared: $1) }
        } catch {
            lastError = error
            return batches.map { .persistFailed(batch: $0.number) }
        }
    }
}
