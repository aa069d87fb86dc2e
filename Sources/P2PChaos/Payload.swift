/// The bytes of a workload message, derived from its tag, and their fingerprint (FNV-1a 64), so
/// that the checker can tell a corrupted or foreign message from the one that was sent.
enum Payload {
    static func bytes(tag: UInt64, size: Int) -> [UInt8] {
        var state = tag &* 0x9E37_79B9_7F4A_7C15 | 1
        var bytes = [UInt8](repeating: 0, count: size)
        for index in 0..<size {
            if index % 8 == 0 {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
            }
            bytes[index] = UInt8(truncatingIfNeeded: state >> ((index % 8) * 8))
        }
        return bytes
    }

    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01B3
        }
        return hash
    }
}
