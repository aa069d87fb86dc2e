/// A priority queue of events ordered by logical time, then by the order they were scheduled:
/// the simulation's clock. Ties never depend on anything but the schedule, so a run replays.
struct EventQueue<Event> {
    /// The heap holds only (time, sequence) pairs, cheap to move; the events wait by sequence.
    private var heap: [(at: Int, sequence: Int)] = []
    private var events: [Int: Event] = [:]
    private var nextSequence = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func schedule(_ event: Event, at time: Int) {
        nextSequence += 1
        events[nextSequence] = event
        heap.append((time, nextSequence))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest event due at or before `time`.
    mutating func popDue(at time: Int) -> Event? {
        guard let first = heap.first, first.at <= time else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count, Self.precedes(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count, Self.precedes(heap[right], heap[smallest]) { smallest = right }
                guard smallest != parent else { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return events.removeValue(forKey: first.sequence)
    }

    private static func precedes(_ a: (at: Int, sequence: Int), _ b: (at: Int, sequence: Int)) -> Bool {
        a.at != b.at ? a.at < b.at : a.sequence < b.sequence
    }
}
