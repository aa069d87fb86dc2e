import P2PCore
import Raft

/// The deterministic random source of one fuzz input: a ``SplitMix64`` seeded from
/// `(target, seed, iteration)`, so that any input replays alone from those three values.
public struct FuzzRandom: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64

    /// The source of input `iteration` of `target` in the run seeded `seed`.
    public init(target: FuzzTarget, seed: UInt64, iteration: UInt64) {
        var mixer = SplitMix64(seed: seed ^ target.salt)
        let base = mixer.next()
        generator = SplitMix64(seed: base ^ (iteration &* 0xD6E8_FEB8_6659_FD93))
    }

    public mutating func next() -> UInt64 { generator.next() }

    /// A value in `0..<bound` (`bound` > 0).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(max(1, bound))) }

    /// True with probability 1/`n`.
    mutating func oneIn(_ n: Int) -> Bool { below(n) == 0 }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }

    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    /// Integers that break arithmetic: 0, 1, the bounds of `Raft`, 2^63, `UInt64.max` and neighbours.
    static let extremes: [UInt64] = [
        0, 1, 2, 0x7F, 0xFF, 0xFFFF, 0xFFFF_FFFF, 1 << 32, Raft.maximumIndex - 1, Raft.maximumIndex, Raft.maximumIndex + 1,
        1 << 63, (1 << 63) - 1, .max - 1, .max,
    ]

    /// Usually a small value, sometimes an extreme one.
    mutating func integer(small: UInt64 = 16) -> UInt64 {
        switch below(8) {
        case 0: pick(Self.extremes)
        case 1: next()
        default: next() % small
        }
    }

    /// A node id: one of `known` mostly, sometimes a stranger.
    mutating func nodeID(_ known: [NodeID]) -> NodeID {
        if !known.isEmpty && !oneIn(6) { return pick(known) }
        return NodeID(bytes: bytes(16)) ?? known.first ?? .random()
    }

    mutating func string(maximum: Int = 24) -> String {
        if oneIn(8) { return String(decoding: bytes(below(maximum)), as: UTF8.self) }
        return String((0..<below(maximum)).map { _ in Character(UnicodeScalar(UInt8(0x20 + below(0x5F)))) })
    }
}
