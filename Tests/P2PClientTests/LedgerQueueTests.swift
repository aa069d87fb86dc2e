import Delivery
import LMDB
import MessageModel
import P2PCore
import Synchronization
import Testing
import TestSupport
@testable import P2PClient

/// The client ledger's writer off the engine actor (``LedgerQueue``): batches are written in
/// order, those queued while a transaction runs share the next one, every batch is confirmed once
/// and only after it is durable, and a crash after the sync but before the engine took the
/// confirmation leaves exactly the written batches (nothing lost, nothing twice).
@Suite struct LedgerQueueTests {
    let me = NodeID.random()
    let bob = NodeID.random()

    /// Collects confirmations, each transaction's as one group.
    final class Confirmations: Sendable {
        let groups = Mutex<[[ClientCore.Input]]>([])
        let stream = AsyncStream<Void>.makeStream()
        func take(_ inputs: [ClientCore.Input]) {
            groups.withLock { $0.append(inputs) }
            stream.continuation.yield()
        }
        var confirmedBatches: [UInt64] {
            groups.withLock { $0.flatMap { $0.compactMap { if case .persisted(let batch, _) = $0 { batch } else { nil } } } }
        }
        /// Waits until `count` batches are confirmed.
        func wait(for count: Int) async {
            var iterator = stream.stream.makeAsyncIterator()
            while confirmedBatches.count < count { _ = await iterator.next() }
        }
    }

    @Test func batchesAreConfirmedInOrderOnceAndGroupedWhileTheDiskWorks() async throws {
        let scratch = TemporaryDirectory("ledger-queue")
        let environment = try Environment(path: scratch.path)
        defer { environment.close() }
        let confirmations = Confirmations()
        let queue = LedgerQueue(ledger: try ClientLedger(environment: environment, me: me)) { confirmations.take($0) }
        let count: UInt64 = 200
        for number in 1...count {
            queue.enqueue(LedgerBatch(number: number, operations: [.prepare(recipient: bob, payload: [UInt8(truncatingIfNeeded: number)])]))
        }
        await confirmations.wait(for: Int(count))
        #expect(confirmations.confirmedBatches == Array(1...count))
        // Sequence numbers follow the batches' order: no id assigned twice, none skipped.
        let prepared = confirmations.groups.withLock { $0.flatMap { $0.compactMap { if case .persisted(_, let ids) = $0 { ids.first?.sequence } else { nil } } } }
        #expect(prepared == Array(1...count))
        // 200 batches queued faster than a sync: they shared transactions.
        #expect(confirmations.groups.withLock { $0.count } < Int(count))
        #expect(queue.lastError == nil)
    }

    @Test func aCrashBeforeTheConfirmationIsTakenLeavesExactlyTheWrittenBatches() async throws {
        let scratch = TemporaryDirectory("ledger-queue-crash")
        let alice = NodeID.random()
        do {
            let environment = try Environment(path: scratch.path)
            let queue = LedgerQueue(ledger: try ClientLedger(environment: environment, me: me)) { _ in
                // The engine never takes these: the process "crashes" after the sync.
            }
            queue.enqueue(LedgerBatch(number: 1, operations: [.prepare(recipient: bob, payload: [1]), .prepare(recipient: bob, payload: [2])]))
            queue.enqueue(LedgerBatch(number: 2, operations: [.markDelivered(MessageID(sender: alice, sequence: 1))]))
            queue.enqueue(LedgerBatch(number: 3, operations: [.resolve(OutboxKey(recipient: bob, id: MessageID(sender: me, sequence: 1)))]))
            queue.finish()
            environment.close()
        }
        let environment = try Environment(path: scratch.path)
        defer { environment.close() }
        let ledger = try ClientLedger(environment: environment, me: me)
        // The delivery is recorded once: a push of alice's message 1 again is not handed over again.
        #expect(try ledger.deliveredThrough(alice) == 1)
        // Message 2 is still owed to bob (not lost), message 1 resolved; the next id follows.
        #expect(try ledger.pending().map(\.id.sequence) == [2])
        #expect(try ledger.prepare(to: bob, payloads: [[3]]).map(\.id.sequence) == [3])
    }

    /// A sender's outbox cleanup (`resolve` only) waits for its next batch and shares its
    /// transaction, rather than taking a sync of its own in front of it.
    @Test func aCleanupBatchWaitsForTheNextBatchAndSharesItsTransaction() async throws {
        let scratch = TemporaryDirectory("ledger-queue-cleanup")
        let environment = try Environment(path: scratch.path)
        defer { environment.close() }
        let confirmations = Confirmations()
        let ledger = try ClientLedger(environment: environment, me: me)
        let first = try ledger.prepare(to: bob, payloads: [[1]])
        let queue = LedgerQueue(ledger: ledger, cleanupDelay: .seconds(3600)) { confirmations.take($0) }
        let cleanup = LedgerBatch(number: 1, operations: [.resolve(OutboxKey(recipient: bob, id: first[0].id))])
        #expect(cleanup.isCleanup)
        queue.enqueue(cleanup)
        queue.enqueue(LedgerBatch(number: 2, operations: [.prepare(recipient: bob, payload: [2])]))
        await confirmations.wait(for: 2)
        // One transaction for both, in order.
        #expect(confirmations.groups.withLock { $0.count } == 1)
        #expect(confirmations.confirmedBatches == [1, 2])
        #expect(try ledger.pending().map(\.id.sequence) == [2])
    }

    /// Held cleanup is written once the delay passes with nothing else to write, and at the
    /// latest when the client stops.
    @Test func aCleanupBatchAloneIsWrittenAfterItsDelayOrAtTheStop() async throws {
        let scratch = TemporaryDirectory("ledger-queue-cleanup-alone")
        let environment = try Environment(path: scratch.path)
        defer { environment.close() }
        let ledger = try ClientLedger(environment: environment, me: me)
        let prepared = try ledger.prepare(to: bob, payloads: [[1], [2]])

        let soon = Confirmations()
        let delayed = LedgerQueue(ledger: ledger, cleanupDelay: .milliseconds(20)) { soon.take($0) }
        delayed.enqueue(LedgerBatch(number: 1, operations: [.resolve(OutboxKey(recipient: bob, id: prepared[0].id))]))
        await soon.wait(for: 1)
        #expect(try ledger.pending().map(\.id.sequence) == [2])

        let stopping = Confirmations()
        let held = LedgerQueue(ledger: ledger, cleanupDelay: .seconds(3600)) { stopping.take($0) }
        held.enqueue(LedgerBatch(number: 1, operations: [.resolve(OutboxKey(recipient: bob, id: prepared[1].id))]))
        #expect(stopping.confirmedBatches.isEmpty)
        held.finish()
        #expect(stopping.confirmedBatches == [1])
        #expect(try ledger.pending().isEmpty)
    }

    @Test func aFailedTransactionFailsItsBatchesAndKeepsTheError() async throws {
        let scratch = TemporaryDirectory("ledger-queue-fail")
        let environment = try Environment(path: scratch.path)
        defer { environment.close() }
        let confirmations = Confirmations()
        let queue = LedgerQueue(ledger: try ClientLedger(environment: environment, me: me)) { confirmations.take($0) }
        // Out of order: bob's message 2 cannot be delivered before 1.
        queue.enqueue(LedgerBatch(number: 1, operations: [.markDelivered(MessageID(sender: bob, sequence: 2))]))
        queue.finish()
        let inputs = confirmations.groups.withLock { $0.flatMap { $0 } }
        #expect(inputs == [.persistFailed(batch: 1)])
        #expect(queue.lastError != nil)
    }
}
