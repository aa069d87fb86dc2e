import Synchronization
import Testing
@testable import P2PServer

/// A flush that waits until the test releases it, recording the batches it was given and how
/// many flushes ran at once.
private final class HeldFlush: Sendable {
    private struct State {
        var batches: [[Int]] = []
        var running = 0
        var mostRunning = 0
        var held: [CheckedContinuation<Void, Never>] = []
        var startWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    var batches: [[Int]] { state.withLock { $0.batches } }
    var mostRunning: Int { state.withLock { $0.mostRunning } }

    func flush(_ items: [Int]) async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.batches.append(items)
                state.running += 1
                state.mostRunning = max(state.mostRunning, state.running)
                state.held.append(continuation)
                let ready = state.startWaiters.filter { $0.count <= state.batches.count }.map(\.continuation)
                state.startWaiters.removeAll { $0.count <= state.batches.count }
                return ready
            }
            for waiter in ready { waiter.resume() }
        }
        state.withLock { $0.running -= 1 }
    }

    /// Returns once `count` flushes have started.
    func started(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.batches.count >= count { return true }
                state.startWaiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Lets every flush that started so far finish.
    func release() {
        for held in state.withLock({ state in defer { state.held.removeAll() }; return state.held }) { held.resume() }
    }
}

@Suite struct CoalescerTests {
    /// What arrives while a serial flush runs waits and goes as one batch after it.
    @Test func aSerialCoalescerRunsOneFlushAtATimeAndBatchesWhatWaited() async {
        let flush = HeldFlush()
        let coalescer = Coalescer<Int>(.serial) { await flush.flush($0) }
        coalescer.add(1)
        await flush.started(1)
        for item in 2...5 { coalescer.add(item) }
        flush.release()
        await flush.started(2)
        coalescer.add(6)
        flush.release()
        await flush.started(3)
        flush.release()
        #expect(flush.batches == [[1], [2, 3, 4, 5], [6]])
        #expect(flush.mostRunning == 1)
    }

    /// An overlapping coalescer starts the next flush without waiting for the running one.
    @Test func anOverlappingCoalescerStartsAFlushWhileAnotherRuns() async {
        let flush = HeldFlush()
        let coalescer = Coalescer<Int> { await flush.flush($0) }
        coalescer.add(1)
        await flush.started(1)
        coalescer.add(2)
        await flush.started(2)
        #expect(flush.mostRunning == 2)
        flush.release()
        #expect(flush.batches == [[1], [2]])
    }

    /// A held coalescer waits for company: items that arrive within the delay of the first go
    /// as one batch, not one flush each.
    @Test func aHeldCoalescerGathersWhatArrivesWithinItsDelay() async {
        let flush = HeldFlush()
        // Added back to back: only a stall of the whole delay between them could split them.
        let coalescer = Coalescer<Int>(.held(delay: .seconds(2), limit: 100)) { await flush.flush($0) }
        let start = ContinuousClock.now
        coalescer.add(1)
        coalescer.add(2)
        coalescer.add(3)
        await flush.started(1)
        #expect(ContinuousClock.now - start >= .seconds(2))
        flush.release()
        #expect(flush.batches == [[1, 2, 3]])
    }

    /// A held batch that reaches the limit goes at once, without waiting out the delay.
    @Test func aHeldCoalescerFlushesAtItsLimitWithoutWaiting() async {
        let flush = HeldFlush()
        let coalescer = Coalescer<Int>(.held(delay: .seconds(3600), limit: 3)) { await flush.flush($0) }
        coalescer.add(1)
        coalescer.add(2)
        await Task.yield()
        coalescer.add(3)
        await flush.started(1)
        coalescer.add(4)
        coalescer.add(5)
        coalescer.add(6)
        flush.release()
        await flush.started(2)
        flush.release()
        #expect(flush.batches == [[1, 2, 3], [4, 5, 6]])
        #expect(flush.mostRunning == 1)
    }
}
