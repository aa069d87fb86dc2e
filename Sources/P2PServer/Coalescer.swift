import Synchronization

/// Gathers items while a flush is pending and hands them to `flush` together: a lone item goes
/// at once (one task hop), a burst that arrives meanwhile goes as one batch — one Raft proposal,
/// one peer message — instead of one each.
final class Coalescer<Item: Sendable>: Sendable {
    private let pending = Mutex<(items: [Item], flushScheduled: Bool)>(([], false))
    private let flush: @Sendable ([Item]) async -> Void

    init(flush: @escaping @Sendable ([Item]) async -> Void) {
        self.flush = flush
    }

    /// Queues `item`; the first item of a burst schedules the flush.
    func add(_ item: Item) {
        let mustSchedule = pending.withLock { pending in
            pending.items.append(item)
            defer { pending.flushScheduled = true }
            return !pending.flushScheduled
        }
        if mustSchedule { Task { await self.run() } }
    }

    private func run() async {
        let items = pending.withLock { pending in
            defer {
                pending.items.removeAll(keepingCapacity: true)
                pending.flushScheduled = false
            }
            return pending.items
        }
        await flush(items)
    }
}
