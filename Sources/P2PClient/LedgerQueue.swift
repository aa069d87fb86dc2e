import Delivery
import Dispatch
import P2PCore
import Synchronization

/// Carries out the client core's ledger writes (``LedgerBatch``es) on the ``ClientLedger``, off
/// the engine actor: on a serial queue of its own, so that the engine goes on stepping (taking
/// sends, answers, pushes) while the disk syncs.
///
/// Group commit: the batches queued while one transaction runs are written, in order, in the
/// next one (one sync for all of them). Each transaction's confirmations go back to the
/// engine in order (``ClientCore/Input/persisted(batch:prepared:)`` once it is durable, or
/// ``ClientCore/Input/persistFailed(batch:)``); the core acts on a batch, e.g. hands a message
/// to the application, only after its confirmation, so a crash at any point leaves the ledger
/// with a prefix of the batches and the core never acted on one beyond it.
///
/// Cleanup batches (``LedgerBatch/isCleanup``: outbox entries removed once a send completed)
/// wait for the next batch, or for ``cleanupDelay`` when none comes: a sender's `resolve` then
/// shares the sync of its next `prepare` instead of taking one of its own, in front of it.
final class LedgerQueue: Sendable {
    /// Receives each transaction's confirmations, in order.
    typealias Confirm = @Sendable ([ClientCore.Input]) -> Void

    let ledger: ClientLedger
    /// How long cleanup batches wait for another batch to share a transaction with.
    let cleanupDelay: Duration
    private let queue = DispatchQueue(label: "p2pcore.client.ledger", qos: .userInitiated)
    private let confirm: Confirm

    private struct State {
        /// Cleanup batches are the ones held.
        var batches = GroupCommitState<LedgerBatch>()
        var lastError: (any Error)?
    }

    private let state = Mutex(State())

    init(ledger: ClientLedger, cleanupDelay: Duration = .milliseconds(50), confirm: @escaping Confirm) {
        self.ledger = ledger
        self.cleanupDelay = cleanupDelay
        self.confirm = confirm
    }

    /// The error of the last failed write (what a refused `send` throws).
    var lastError: (any Error)? { state.withLock { $0.lastError } }

    /// Queues `batch` to be written after every batch queued before it.
    func enqueue(_ batch: LedgerBatch) {
        switch state.withLock({ $0.batches.enqueue(batch, hold: batch.isCleanup) }) {
        case .none:
            break
        case .now:
            queue.async { self.drain() }
        case .afterHoldDelay:
            let delay = DispatchTimeInterval.milliseconds(Int(clamping: cleanupDelay.wholeMilliseconds))
            queue.asyncAfter(deadline: .now() + delay) { self.drainHeldCleanup() }
        }
    }

    /// Waits until everything queued so far is written (the client stops), held cleanup too,
    /// and leaves the ledger checkpointed (LMDB synced, the journal empty) and its journal closed.
    func finish() {
        queue.sync {
            drainHeldCleanup()
            do {
                try ledger.checkpoint()
            } catch {
                state.withLock { $0.lastError = error }
            }
            ledger.close()
        }
    }

    /// On the queue: writes the cleanup batches still held, unless a drain already runs.
    private func drainHeldCleanup() {
        if state.withLock({ $0.batches.claimHeld() }) { drain() }
    }

    /// Writes what is queued, a transaction at a time, until nothing is.
    private func drain() {
        while true {
            let batches = state.withLock { $0.batches.takeQueued() }
            guard !batches.isEmpty else { return }
            write(batches)
        }
    }

    /// Writes `batches` in one transaction and confirms them as soon as it is durable (with a
    /// journal, before the ledger's LMDB commit, which then runs while the engine goes on).
    private func write(_ batches: [LedgerBatch]) {
        var confirmed = false
        do {
            _ = try ledger.commit(batches) { assigned in
                confirmed = true
                self.confirm(zip(batches, assigned).map { .persisted(batch: $0.number, prepared: $1) })
            }
        } catch {
            state.withLock { $0.lastError = error }
            // Batches the journal made durable stay confirmed; the ledger refuses what follows.
            if !confirmed { confirm(batches.map { .persistFailed(batch: $0.number) }) }
        }
    }
}
