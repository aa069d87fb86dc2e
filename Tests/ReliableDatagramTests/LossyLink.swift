import P2PCore
/// One direction of a simulated network path: drops, duplicates and delays datagrams at random;
/// random delays reorder them.
struct LossyLink {
    var dropRate: Double
    var duplicateRate: Double
    var delay: ClosedRange<UInt32>
    private var random: SplitMix64
    private var inFlight: [(deliverAt: UInt32, order: Int, datagram: [UInt8])] = []
    private var sent = 0
    private(set) var dropped = 0

    init(seed: UInt64, dropRate: Double, duplicateRate: Double, delay: ClosedRange<UInt32>) {
        random = SplitMix64(seed: seed)
        self.dropRate = dropRate
        self.duplicateRate = duplicateRate
        self.delay = delay
    }

    mutating func send(_ datagram: [UInt8], now: UInt32) {
        let copies = random.chance(duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            if random.chance(dropRate) {
                dropped += 1
                continue
            }
            let at = now &+ UInt32.random(in: delay, using: &random)
            inFlight.append((at, sent, datagram))
            sent += 1
        }
    }

    /// The datagrams due at `now`, in arrival order.
    mutating func deliver(now: UInt32) -> [[UInt8]] {
        var due: [(deliverAt: UInt32, order: Int, datagram: [UInt8])] = []
        inFlight.removeAll { entry in
            // Wrap-safe comparison: the clock may cross 2^32 during a run.
            guard Int32(bitPattern: now &- entry.deliverAt) >= 0 else { return false }
            due.append(entry)
            return true
        }
        return due.sorted { (Int32(bitPattern: $0.deliverAt &- now), $0.order) < (Int32(bitPattern: $1.deliverAt &- now), $1.order) }
            .map(\.datagram)
    }
}
