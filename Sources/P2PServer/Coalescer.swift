import Synchronization

/// Gathers items while a flush is pending and hands them to `flush` together: a lone item goes
/// at once (one task hop), a burst that arrives meanwhile goes as one batch — one Raft proposal,
/// one peer message — instead of one each.
final class Coalescer<Item: Sendable>: Sendable {
    /// Whether flushes may overlap.
    enum Mode: Sendable {
        /// A flush starts as soon as items arrive, whether or not earlier flushes have finished
        /// (for work whose latency counts, such as relayed sends).
        case overlapping
        /// One flush at a time: what arrives while a flush runs waits for it and then goes as
        /// the next batch. For work that only has to happen eventually, such as committing
        /// acknowledgements: items that trickle in one by one share a proposal per Raft round
        /// instead of taking a round (and a sync on every server) each.
        case serial
    }

    private let pending = Mutex<(items: [Item], flushScheduled: Bool)>(([], false))
    private let mode: Mode
    private let flush: @Sendable ([Item]) async -> Void

    init(_ mode: Mode = .overlapping, flush: @escaping @Sendable ([Item]) async -> Void) {
        self.mode = mode
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
        switch mode {
        case .overlapping:
            await flush(take(endingFlush: true))
        case .serial:
            while true {
                let items = take(endingFlush: false)
                if items.isEmpty { return }
                await flush(items)
            }
        }
    }

    /// What is pending. An overlapping flush lets the next item schedule another at once; a
    /// serial one stays scheduled until it finds nothing left.
    private func take(endingFlush: Bool) -> [Item] {
        pending.withLock { pending in
            let items = pending.items
            pending.items.removeAll(keepingCapacity: true)
            if endingFlush || items.isEmpty { pending.flushScheduled = false }
            return items
        }
    }
}
