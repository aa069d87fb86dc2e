/// Packs segments into datagrams of at most `mtu` bytes, as `ikcp_flush` does.
struct DatagramBuilder {
    private let mtu: Int
    private var current: [UInt8] = []
    private(set) var datagrams: [[UInt8]] = []

    init(mtu: Int) {
        self.mtu = mtu
        current.reserveCapacity(mtu)
    }

    mutating func append(_ header: SegmentHeader, payload: [UInt8] = []) {
        if current.count + SegmentHeader.size + payload.count > mtu, !current.isEmpty {
            finishDatagram()
        }
        header.encode(into: &current)
        current.append(contentsOf: payload)
    }

    /// Closes the datagram being filled and returns all datagrams built.
    mutating func finish() -> [[UInt8]] {
        if !current.isEmpty { finishDatagram() }
        return datagrams
    }

    private mutating func finishDatagram() {
        datagrams.append(current)
        current = []
        current.reserveCapacity(mtu)
    }
}
