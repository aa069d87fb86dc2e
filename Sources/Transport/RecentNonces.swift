/// The last `capacity` nonces seen, to refuse replays; the oldest is forgotten first.
struct RecentNonces: Sendable {
    let capacity: Int
    private var members: Set<[UInt8]> = []
    private var order: [[UInt8]] = []
    private var oldest = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    /// Records `nonce`; false if it is already among the recent ones.
    mutating func insert(_ nonce: [UInt8]) -> Bool {
        guard !members.contains(nonce) else { return false }
        if order.count < capacity {
            order.append(nonce)
        } else {
            members.remove(order[oldest])
            order[oldest] = nonce
            oldest = (oldest + 1) % capacity
        }
        members.insert(nonce)
        return true
    }
}
