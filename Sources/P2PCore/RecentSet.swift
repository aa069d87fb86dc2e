/// The last `capacity` distinct elements inserted, to recognise repeats (replayed nonces,
/// receipts that arrive twice); the oldest is forgotten first.
public struct RecentSet<Element: Hashable & Sendable>: Sendable {
    public let capacity: Int
    private var members: Set<Element> = []
    private var order: [Element] = []
    private var oldest = 0

    public init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    /// Records `element`; false if it is already among the recent ones.
    public mutating func insert(_ element: Element) -> Bool {
        guard !members.contains(element) else { return false }
        if order.count < capacity {
            order.append(element)
        } else {
            members.remove(order[oldest])
            order[oldest] = element
            oldest = (oldest + 1) % capacity
        }
        members.insert(element)
        return true
    }
}
