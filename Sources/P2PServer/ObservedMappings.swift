import P2PCore
import Synchronization

/// Each client's (and linked server's) public UDP mapping as this server last observed it (as
/// STUN does), from authenticated observations (``ClientGateway/recordObservations(_:)``).
final class ObservedMappings: Sendable {
    private let mappings = Mutex<[NodeID: String]>([:])
    /// When each mapping was last observed (path diagnostics weigh only recent ones).
    private let observedAt = Mutex<[NodeID: ContinuousClock.Instant]>([:])

    func record(_ address: String, of node: NodeID) {
        mappings.withLock { $0[node] = address }
        observedAt.withLock { $0[node] = .now }
    }

    /// Every mapping with how long ago it was last observed.
    var allWithAge: [NodeID: (mapping: String, age: Duration)] {
        let times = observedAt.withLock { $0 }
        let now = ContinuousClock.now
        return mappings.withLock { $0 }.reduce(into: [:]) { result, entry in
            result[entry.key] = (entry.value, times[entry.key].map { now - $0 } ?? .zero)
        }
    }

    func mapping(of node: NodeID) -> String? { mappings.withLock { $0[node] } }
    var all: [NodeID: String] { mappings.withLock { $0 } }

    /// Where a node may be punched to: the addresses it reported, then the UDP mapping this
    /// server observed for it.
    func candidates(_ reported: [String], of node: NodeID) -> [String] {
        var candidates = reported
        if let observed = mapping(of: node), !candidates.contains(observed) { candidates.append(observed) }
        return candidates
    }
}
