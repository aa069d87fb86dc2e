import Synchronization

/// Long-lived tasks, such as one per link, that can be cancelled and awaited together — what a
/// discarding task group gives, without its cost: a task group finds a finished child by walking
/// the list of its children, so with thousands of links each one that closes cost a walk over
/// all the others (20 % of a server's CPU during an attach storm of 20,000 clients). Here a
/// finished task leaves a dictionary.
package final class TaskSet: Sendable {
    private struct State {
        var next: UInt64 = 0
        var tasks: [UInt64: Task<Void, Never>] = [:]
        var cancelled = false
    }

    private let state = Mutex(State())

    package init() {}

    /// Tasks running now.
    package var count: Int { state.withLock { $0.tasks.count } }

    /// Runs `body` in a task of its own (cancelled at once if ``cancelAll()`` was called).
    package func add(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let id = state.next
            state.next += 1
            // The task removes itself under the same lock, so never before it was inserted.
            let task = Task { [self] in
                await body()
                remove(id)
            }
            if state.cancelled { task.cancel() }
            state.tasks[id] = task
        }
    }

    /// Cancels every task, and those added later.
    package func cancelAll() {
        let tasks = state.withLock { state in
            state.cancelled = true
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
    }

    /// Returns once every task has finished (those added meanwhile too).
    package func waitForAll() async {
        while let task = state.withLock({ $0.tasks.first?.value }) { await task.value }
    }

    /// Runs `body` in a task of its own for each element of `elements` until they end, then
    /// waits for those tasks; cancelling the calling task cancels them too.
    package static func forEach<Element: Sendable>(
        _ elements: AsyncStream<Element>, _ body: @escaping @Sendable (Element) async -> Void
    ) async {
        let tasks = TaskSet()
        await withTaskCancellationHandler {
            for await element in elements { tasks.add { await body(element) } }
        } onCancel: {
            tasks.cancelAll()
        }
        await tasks.waitForAll()
    }

    private func remove(_ id: UInt64) {
        _ = state.withLock { $0.tasks.removeValue(forKey: id) }
    }
}
