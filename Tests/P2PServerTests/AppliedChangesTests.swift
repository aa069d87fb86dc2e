import Synchronization
import Testing
@testable import P2PServer

@Suite struct AppliedChangesTests {
    private func batch(_ count: Int) -> [ReplicatedMailboxes.AppliedChange] {
        Array(repeating: .snapshotRestored, count: count)
    }

    @Test func batchesAppliedBeforeTheHandlerComeFirstThenEachAsItIsApplied() {
        let applied = AppliedChanges()
        applied.yield(batch(1))
        applied.yield(batch(2))
        let seen = Mutex<[Int]>([])
        applied.handle { changes in seen.withLock { $0.append(changes.count) } }
        #expect(seen.withLock { $0 } == [1, 2])
        applied.yield(batch(3))
        #expect(seen.withLock { $0 } == [1, 2, 3], "handed over at once, on the caller's thread")
        applied.finish()
        applied.yield(batch(4))
        #expect(seen.withLock { $0 } == [1, 2, 3], "nothing after finish")
    }

    @Test func atMostTheLimitWaitsForTheHandlerTheNewestKept() {
        let applied = AppliedChanges()
        for count in 1...(AppliedChanges.waitingLimit + 5) { applied.yield(batch(count)) }
        let seen = Mutex<[Int]>([])
        applied.handle { changes in seen.withLock { $0.append(changes.count) } }
        let counts = seen.withLock { $0 }
        #expect(counts.count == AppliedChanges.waitingLimit)
        #expect(counts.first == 6)
        #expect(counts.last == AppliedChanges.waitingLimit + 5)
    }
}
