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
}
