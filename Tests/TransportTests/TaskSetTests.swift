import Synchronization
import Testing
@testable import Transport

@Suite struct TaskSetTests {
    /// Finished tasks leave the set; the rest run until cancelled, and then all are awaited.
    @Test func finishedTasksLeaveAndCancelAllEndsTheRest() async {
        let set = TaskSet()
        let finished = AsyncStream<Void>.makeStream()
        for _ in 0..<10 { set.add { finished.continuation.yield() } }
        var iterator = finished.stream.makeAsyncIterator()
        for _ in 0..<10 { _ = await iterator.next() }
        // Each removes itself right after its body: wait for that without sleeping.
        await set.waitForAll()
        #expect(set.count == 0)

        let started = AsyncStream<Void>.makeStream()
        for _ in 0..<100 {
            set.add {
                started.continuation.yield()
                // Runs until cancelled.
                while !Task.isCancelled { await Task.yield() }
            }
        }
        var starts = started.stream.makeAsyncIterator()
        for _ in 0..<100 { _ = await starts.next() }
        #expect(set.count == 100)
        set.cancelAll()
        await set.waitForAll()
        #expect(set.count == 0)
        // Added after cancelAll: cancelled at once.
        set.add { while !Task.isCancelled { await Task.yield() } }
        await set.waitForAll()
        #expect(set.count == 0)
    }

    /// One task per element; returns once the stream ended and every task finished.
    @Test func forEachRunsATaskPerElementAndWaitsForThem() async {
        let (elements, continuation) = AsyncStream<Int>.makeStream()
        for element in 1...20 { continuation.yield(element) }
        continuation.finish()
        let seen = Counter()
        await TaskSet.forEach(elements) { element in
            await Task.yield()
            seen.add(element)
        }
        #expect(seen.total == (1...20).reduce(0, +))
    }
}

private final class Counter: Sendable {
    private let value = Mutex(0)
    func add(_ amount: Int) { value.withLock { $0 += amount } }
    var total: Int { value.withLock { $0 } }
}
