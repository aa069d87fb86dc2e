import P2PCore

/// The server a client's relayed mail goes through first: of the servers on offer, the one with
/// the highest rendezvous weight for the recipient (highest-random-weight hashing).
///
/// Every message to one recipient then takes the same server while it is on offer, so a pair's
/// sends reach the cluster through one gateway and one Raft proposer: they share proposals and
/// syncs there instead of being spread over every server, each forwarding to the leader on its
/// own (measured: +15-35 % relayed msgs/s at 16-256 in flight, docs/SCALING.md). Recipients
/// still spread over the servers, and when one goes away only its recipients move.
///
/// The weight is a fixed function of the two ids (not a seeded or per-process hash), so every
/// sender picks the same home for a recipient.
package enum HomeServer {
    /// The home of `recipient` among `servers`, or nil if there are none.
    package static func choose(for recipient: NodeID, among servers: [NodeID]) -> NodeID? {
        let key = mix(folded(recipient))
        return servers.map { (weight: mix(key ^ mix(folded($0))), server: $0) }
            .max { ($0.weight, $0.server) < ($1.weight, $1.server) }?.server
    }

    /// An id's 16 bytes folded into 64 bits.
    private static func folded(_ id: NodeID) -> UInt64 {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in id.bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        return high ^ mix(low)
    }

    /// SplitMix64's finalizer: every input bit affects every output bit.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
