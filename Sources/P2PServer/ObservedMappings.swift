import P2PCore
import Synchronization

/// Each client's (and linked server's) public UDP mapping as this server last observed it (as
/// STUN does), from authenticated observations (``ClientGateway/recordObservations(_:)``).
/// A mapping not observed again for ``forgetAfter`` is forgotten (clients observe at least every
/// 30 s while they run, servers every 2 s), so the table holds the nodes that observe here now,
/// not every node that ever did.
final class ObservedMappings: Sendable {
    private struct Entry {
        var mapping: String
        var observedAt: ContinuousClock.Instant
    }

    private struct State {
        var entries: [NodeID: Entry] = [:]
        var lastPruned = ContinuousClock.now
    }

    /// How long an unrefreshed mapping is kept.
    static let forgetAfter: Duration = .seconds(600)
    private let state = Mutex(State())

    func record(_ address: String, of node: NodeID) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.entries[node] = Entry(mapping: address, observedAt: now)
            guard now - state.lastPruned >= Self.forgetAfter / 10 else { return }
            state.lastPruned = now
            state.entries = state.entries.filter { now - $0.value.observedAt < Self.forgetAfter }
        }
    }

    /// Every mapping with how long ago it was last observed.
    var allWithAge: [NodeID: (mapping: String, age: Duration)] {
        let now = ContinuousClock.now
        return state.withLock { $0.entries }.mapValues { ($0.mapping, now - $0.observedAt) }
    }

    func mapping(of node: NodeID) -> String? { state.withLock { $0.entries[node]?.mapping } }

    /// `node`'s mapping if observed within `age`.
    func mapping(of node: NodeID, observedWithin age: Duration) -> String? {
        let now = ContinuousClock.now
        return state.withLock { state in
            state.entries[node].flatMap { now - $0.observedAt <= age ? $0.mapping : nil }
        }
    }

    var all: [NodeID: String] { state.withLock { $0.entries }.mapValues(\.mapping) }

    /// Where a node may be punched to: the addresses it reported, then the UDP mapping this
    /// server observed for it.
    func candidates(_ reported: [String], of node: NodeID) -> [String] {
        var candidates = reported
        if let observed = mapping(of: node), !candidates.contains(observed) { candidates.append(observed) }
        return candidates
    }
}
