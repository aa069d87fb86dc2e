import P2PCore

/// Which configured servers a client attaches to: at most ``maximum`` of them, the same ones
/// for the same client across restarts, spread evenly over the servers across clients, with a
/// fall-over to the next-ranked server while one is unreachable.
///
/// The addresses are ranked by rendezvous (highest-random-weight) hashing of the client's id
/// with each address: every client gets its own order of the servers, independent of the
/// others', and adding or removing a server moves only the clients that ranked it among their
/// first. The client keeps links to the first ``maximum`` addresses; while one of them has been
/// down for ``failoverDelay`` (it is still redialled), the next-ranked address is dialled in its
/// place, and released again once the preferred one is back.
///
/// A pure value: the caller says what happened and when, and asks which addresses to dial.
package struct AttachmentPlan: Sendable {
    /// How long a preferred address may stay down before the next-ranked one stands in.
    package static let failoverDelay: Duration = .seconds(2)

    /// The configured addresses in this client's order of preference.
    package let ranked: [String]
    /// Servers attached at most (at least 1).
    package let maximum: Int
    private var connected: Set<String> = []
    /// The addresses the client dials now.
    private var dialled: Set<String> = []
    /// Since when each wanted address has been down (absent: up, or not failed since wanted).
    private var downSince: [String: ContinuousClock.Instant] = [:]

    package init(addresses: [String], client: NodeID, maximum: Int) {
        ranked = Self.ranked(addresses, for: client)
        self.maximum = max(1, maximum)
    }

    /// `addresses` (duplicates dropped) ordered by their rendezvous weight for `client`,
    /// highest first.
    package static func ranked(_ addresses: [String], for client: NodeID) -> [String] {
        var unique: [String] = []
        for address in addresses where !unique.contains(address) { unique.append(address) }
        return unique
            .map { (address: $0, weight: weight(of: $0, for: client)) }
            .sorted { ($0.weight, $0.address) > ($1.weight, $1.address) }
            .map(\.address)
    }

    /// A stable 64-bit weight of (`client`, `address`): FNV-1a over both, finished with the
    /// SplitMix64 mixer so that near-identical addresses get unrelated weights.
    package static func weight(of address: String, for client: NodeID) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in client.bytes + [0xFF] + Array(address.utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        var mixer = SplitMix64(seed: hash)
        return mixer.next()
    }

    /// The addresses to keep links to at `now`: walking the ranking, each address is dialled
    /// until ``maximum`` of the dialled ones are healthy (connected, or not down for
    /// ``failoverDelay`` yet).
    package func wanted(at now: ContinuousClock.Instant) -> [String] {
        var wanted: [String] = []
        var healthy = 0
        for address in ranked where healthy < maximum {
            wanted.append(address)
            if connected.contains(address) || downSince[address].map({ now - $0 < Self.failoverDelay }) ?? true { healthy += 1 }
        }
        return wanted
    }

    /// The client started dialling `address`.
    package mutating func dialling(_ address: String) {
        dialled.insert(address)
    }

    /// The server at `address` welcomed the client.
    package mutating func connected(_ address: String) {
        connected.insert(address)
        downSince[address] = nil
    }

    /// The link to `address` ended or could not be made at `now`; returns whether the address
    /// just went down (then the plan may change at `now +` ``failoverDelay``).
    package mutating func disconnected(_ address: String, at now: ContinuousClock.Instant) -> Bool {
        connected.remove(address)
        guard dialled.contains(address), downSince[address] == nil else { return false }
        downSince[address] = now
        return true
    }

    /// The client stopped dialling `address`: it starts afresh if it is wanted again.
    package mutating func released(_ address: String) {
        dialled.remove(address)
        connected.remove(address)
        downSince[address] = nil
    }
}
