/// A FIFO of segments with amortized O(1) removal at the front.
struct SegmentQueue: Sendable {
    private var storage: [Segment] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }
    var first: Segment? { isEmpty ? nil : storage[head] }

    /// The segment `offset` places behind the front.
    subscript(offset: Int) -> Segment { storage[head + offset] }

    mutating func append(_ segment: Segment) {
        storage.append(segment)
    }

    mutating func popFirst() -> Segment? {
        guard head < storage.count else { return nil }
        let segment = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32, head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return segment
    }
}
