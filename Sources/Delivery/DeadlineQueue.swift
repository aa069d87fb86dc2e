import HeapModule

/// Timed events by due time, then by the order they were scheduled (so that ties never depend
/// on anything but the schedule and a run replays): a core's timers (``ClientCore/nextDeadline``)
/// and a simulation's clock.
///
/// Events are not removed when they become moot: whoever pops one checks it still applies
/// (see ``ClientCore``'s attempt epochs), so that arming and disarming stay O(log n). The heap
/// holds only (time, order) keys, cheap to move; the events wait by order.
public struct DeadlineQueue<Event> {
    private struct Key: Comparable {
        let at: UInt64
        let order: UInt64

        static func < (a: Key, b: Key) -> Bool { a.at != b.at ? a.at < b.at : a.order < b.order }
    }

    private var heap = Heap<Key>()
    private var events: [UInt64: Event] = [:]
    private var added: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }

    /// The earliest due time, if any.
    public var earliest: UInt64? { heap.min?.at }

    public mutating func schedule(_ event: Event, at: UInt64) {
        added &+= 1
        events[added] = event
        heap.insert(Key(at: at, order: added))
    }

    /// Removes and returns the earliest event due at or before `now`.
    public mutating func popDue(_ now: UInt64) -> Event? {
        guard let first = heap.min, first.at <= now else { return nil }
        heap.removeMin()
        return events.removeValue(forKey: first.order)
    }

    public mutating func removeAll() {
        heap = Heap()
        events.removeAll()
    }
}

extension DeadlineQueue: Sendable where Event: Sendable {}
