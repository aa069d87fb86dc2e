import P2PCore
/// Deterministic messages of mixed sizes, so a receiver can check each one against what was sent.
enum TestMessages {
    /// Message `index` of stream `stream`: mostly small, some spanning several fragments of
    /// `segmentSize`, a few empty.
    static func message(_ index: Int, stream: UInt64, segmentSize: Int) -> [UInt8] {
        var random = SplitMix64(seed: stream &* 0x1_0000_0001 &+ UInt64(index))
        let size: Int
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<3: size = 0
        case 3..<70: size = Int.random(in: 1...200, using: &random)
        case 70..<90: size = Int.random(in: 200...(2 * segmentSize), using: &random)
        default: size = Int.random(in: (2 * segmentSize)...(6 * segmentSize), using: &random)
        }
        let fill = UInt8.random(in: 0...255, using: &random)
        var bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) ^ fill }
        for shift in 0..<min(size, 4) {
            bytes[shift] = UInt8(truncatingIfNeeded: index >> (8 * shift))
        }
        return bytes
    }
}
