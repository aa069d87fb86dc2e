import Synchronization

/// Gathers items while a flush is pending and hands them to `flush` together: a lone item goes
/// at once (one task hop), a burst that arrives meanwhile goes as one batch — one Raft proposal,
/// one peer message — instead of one each.
final class Coalescer<Item: Sendable>: Sendable {
    /// Whether flushes may overlap, and whether a batch waits for company.
    enum Mode: Sendable {
        /// A flush starts as soon as items arrive, whether or not earlier flushes have finished
        /// (for work whose latency counts, such as relayed sends).
        case overlapping
        /// One flush at a time: what arrives while a flush runs waits for it and then goes as
        /// the next batch. For work that only has to happen eventually: items that trickle in
        /// one by one share a flush per round instead of taking a round each.
        case serial
        /// Serial, and a batch also waits until `delay` after its first item arrived (or until
        /// `limit` items are pending, whichever comes first). For work nobody waits on, such as
        /// committing acknowledgements: at a trickle, one Raft entry (and one sync on every
        /// server) carries many of them instead of each taking its own.
        case held(delay: Duration, limit: Int)
    }

    private struct Pending {
        var items: [Item] = []
        var flushScheduled = false
        /// When the oldest of `items` arrived (held mode only).
        var firstArrival: ContinuousClock.Instant?
        /// The held flush waiting for its delay or its limit.
        var holder: CheckedContinuation<Void, Never>?
    }

    private let pending = Mutex(Pending())
    private let mode: Mode
    private let flush: @Sendable ([Item]) async -> Void

    init(_ mode: Mode = .overlapping, flush: @escaping @Sendable ([Item]) async -> Void) {
        self.mode = mode
        self.flush = flush
    }

    /// Queues `item`; the first item of a burst schedules the flush.
    func add(_ item: Item) {
        let limit = if case .held(_, let limit) = mode { limit } else { Int.max }
        let (mustSchedule, holder) = pending.withLock { pending in
            if pending.items.isEmpty { pending.firstArrival = .now }
            pending.items.append(item)
            var holder: CheckedContinuation<Void, Never>?
            if pending.items.count >= limit { swap(&holder, &pending.holder) }
            defer { pending.flushScheduled = true }
            return (!pending.flushScheduled, holder)
        }
        holder?.resume()
        if mustSchedule { Task { await self.run() } }
    }

    private func run() async {
        switch mode {
        case .overlapping:
            await flush(take(endingFlush: true))
        case .serial, .held:
            while true {
                if case .held(let delay, let limit) = mode { await hold(delay, limit) }
                let items = take(endingFlush: false)
                if items.isEmpty { return }
                await flush(items)
            }
        }
    }

    /// Returns once the pending batch is `delay` old or `limit` long (at once if it is empty).
    private func hold(_ delay: Duration, _ limit: Int) async {
        await withCheckedContinuation { continuation in
            let deadline = pending.withLock { pending -> ContinuousClock.Instant? in
                guard let first = pending.firstArrival, pending.items.count < limit, first + delay > .now else { return nil }
                pending.holder = continuation
                return first + delay
            }
            guard let deadline else { return continuation.resume() }
            Task {
                try? await Task.sleep(until: deadline)
                // Only this batch's holder: a later batch (this one went at its limit) waits for its own deadline.
                self.pending.withLock { pending -> CheckedContinuation<Void, Never>? in
                    guard let first = pending.firstArrival, first + delay <= .now else { return nil }
                    defer { pending.holder = nil }
                    return pending.holder
                }?.resume()
            }
        }
    }

    /// What is pending. An overlapping flush lets the next item schedule another at once; a
    /// serial one stays scheduled until it finds nothing left.
    private func take(endingFlush: Bool) -> [Item] {
        pending.withLock { pending in
            let items = pending.items
            pending.items.removeAll(keepingCapacity: true)
            pending.firstArrival = nil
            if endingFlush || items.isEmpty { pending.flushScheduled = false }
            return items
        }
    }
}
