import P2PCore
import Synchronization

/// Each client's (and linked server's) public UDP mapping as this server last observed it (as
/// STUN does), from authenticated observations (``ClientGateway/recordObservations(_:)``).
final class ObservedMappings: Sendable {
    private let mappings = Mutex<[NodeID: String]>([:])

    func record(_ address: String, of node: NodeID) {
        mappings.withLock { $0[node] = address }
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
