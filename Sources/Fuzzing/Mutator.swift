/// Byte-level mutations of valid encodings: flips, insertions, deletions, splices, truncation and
/// extreme integers written over (what may be) integer fields.
public enum Mutator {
    /// Between one and four mutations of `bytes`; `donor` is spliced from.
    static func mutate(_ bytes: [UInt8], donor: [UInt8] = [], random: inout FuzzRandom) -> [UInt8] {
        var result = bytes
        for _ in 0..<(1 + random.below(4)) {
            switch random.below(9) {
            case 0 where !result.isEmpty:
                let at = random.below(result.count)
                result[at] ^= UInt8(1) << UInt8(random.below(8))
            case 1 where !result.isEmpty:
                result[random.below(result.count)] = UInt8(truncatingIfNeeded: random.next())
            case 2:
                result.insert(contentsOf: random.bytes(1 + random.below(8)), at: random.below(result.count + 1))
            case 3 where !result.isEmpty:
                let at = random.below(result.count)
                result.removeSubrange(at..<min(result.count, at + 1 + random.below(8)))
            case 4 where !donor.isEmpty:
                let from = random.below(donor.count)
                let piece = donor[from..<min(donor.count, from + 1 + random.below(32))]
                let at = random.below(result.count + 1)
                if random.oneIn(2), at < result.count {
                    result.replaceSubrange(at..<min(result.count, at + piece.count), with: piece)
                } else {
                    result.insert(contentsOf: piece, at: at)
                }
            case 5 where !result.isEmpty:
                result.removeLast(random.below(result.count) + 1)
            case 6, 7:
                overwriteInteger(&result, random: &random)
            default:
                if !result.isEmpty { result[random.below(result.count)] = random.pick([0, 1, 0x7F, 0x80, 0xFF]) }
            }
        }
        return result
    }

    /// Writes an extreme integer (big-endian, 1, 2, 4 or 8 bytes) at a random offset.
    static func overwriteInteger(_ bytes: inout [UInt8], random: inout FuzzRandom) {
        let width = random.pick([1, 2, 4, 8, 8, 8])
        guard bytes.count >= width else { return }
        let value = random.pick(FuzzRandom.extremes)
        let at = random.below(bytes.count - width + 1)
        for i in 0..<width {
            bytes[at + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - i)))
        }
    }

    /// Arbitrary bytes (sometimes long), or a mutation of `valid`.
    static func input(valid: [UInt8], donor: [UInt8] = [], random: inout FuzzRandom) -> [UInt8] {
        if random.oneIn(5) { return random.bytes(random.oneIn(10) ? random.below(4096) : random.below(96)) }
        if random.oneIn(10) { return valid }
        return mutate(valid, donor: donor, random: &random)
    }
}
