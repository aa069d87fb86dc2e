import Delivery
import Dispatch
import P2PCore
import Synchronization

/// Carries out the client core's ledger writes (``LedgerBatch``es) on the ``ClientLedger``, off
/// the engine actor: on a serial queue of its own, so that the engine goes on stepping (taking
/// sends, answers, pushes) while the disk syncs.
///
/// Group commit: the batches queued while one transaction runs are written, in order, in the
/// next one (one LMDB sync for all of them). Each transaction's confirmations go back to the
/// engine in order (``ClientCore/Input/persisted(batch:prepared:)`` once it is durable, or
/// ``ClientCore/Input/persistFailed(batch:)``); the core acts on a batch, e.g. hands a message
/// to the application, only after its confirmation, so a crash at any point leaves the ledger
/// with a prefix of the batches and the core never acted on one beyond it.
final class LedgerQueue: Sendable {
    /// Receives each transaction's confirmations, in order.
    typealias Confirm = @Sendable ([ClientCore.Input]) -> Void

    let ledger: ClientLedger
    private let queue = DispatchQueue(label: "p2pcore.client.ledger", qos: .userInitiated)
    private let confirm: Confirm

    private struct State {
        var queued: [LedgerBatch] = []
        /// Whether a drain is scheduled or running on the queue.
        var draining = false
        var lastError: (any Error)?
    }

    private let state = Mutex(State())

    init(ledger: ClientLedger, confirm: @escaping Confirm) {
        self.ledger = ledger
        self.confirm = confirm
    }

    /// The error of the last failed write (what a refused `send` throws).
    var lastError: (any Error)? { state.withLock { $0.lastError } }

    /// Queues `batch` to be written after every batch queued before it.
    func enqueue(_ batch: LedgerBatch) {
        let start = state.withLock { state -> Bool in
            state.queued.append(batch)
            guard !state.draining else { return false }
            state.draining = true
            return true
        }
        if start { queue.async { self.drain() } }
    }

    /// Waits until everything queued so far is written (the client stops).
    func finish() {
        queue.sync {}
    }

    /// Writes what is queued, a transaction at a time, until nothing is.
    private func drain() {
        while true {
            let batches = state.withLock { state -> [LedgerBatch] in
                let batches = state.queued
                state.queued.removeAll()
                if batches.isEmpty { state.draining = false }
                return batches
            }
            guard !batches.isEmpty else { return }
            confirm(write(batches))
        }
    }

    private func write(_ batches: [LedgerBatch]) -> [ClientCore.Input] {
        do {
            let assigned = try ledger.commit(batches)
            return zip(batches, assigned).map { .persisted(batch: $0.number, prepared: $1) }
        } catch {
            state.withLock { $0.lastError = error }
            return batches.map { .persistFailed(batch: $0.number) }
        }
    }
}
