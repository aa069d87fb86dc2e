/// Timed events by due time (a binary min-heap), for a core's ``ClientCore/nextDeadline``.
///
/// Events are not removed when they become moot: whoever pops one checks it still applies
/// (see ``ClientCore``'s attempt epochs), so that arming and disarming stay O(log n).
struct DeadlineQueue<Event: Sendable>: Sendable {
    private var heap: [(at: UInt64, order: UInt64, event: Event)] = []
    private var added: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    /// The earliest due time, if any.
    var earliest: UInt64? { heap.first?.at }

    mutating func schedule(_ event: Event, at: UInt64) {
        added &+= 1
        heap.append((at, added, event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest event due at or before `now`.
    mutating func popDue(_ now: UInt64) -> Event? {
        guard let first = heap.first, first.at <= now else { return nil }
        let last = heap.removeLast()
        guard !heap.isEmpty else { return first.event }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count, Self.precedes(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.precedes(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return first.event
    }

    mutating func removeAll() { heap.removeAll() }

    /// Earlier due time first; among equal ones, the earlier scheduled (deterministic order).
    private static func precedes(_ a: (at: UInt64, order: UInt64, event: Event), _ b: (at: UInt64, order: UInt64, event: Event)) -> Bool {
        a.at != b.at ? a.at < b.at : a.order < b.order
    }
}
