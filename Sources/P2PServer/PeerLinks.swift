import P2PCore
import Synchronization
import Transport

/// The server's open links to other servers, by server id, and the last ``ServerHello`` each
/// peer sent. Two servers may hold two links (each dialled the other); messages go out on the
/// oldest one still open, and arrive on all.
final class PeerLinks: Sendable {
    private struct State {
        var links: [NodeID: [Link]] = [:]
        var hellos: [NodeID: ServerHello] = [:]
    }

    private let state = Mutex(State())

    func add(_ link: Link) {
        state.withLock { $0.links[link.peer.id, default: []].append(link) }
    }

    func remove(_ link: Link) {
        state.withLock { state in
            state.links[link.peer.id]?.removeAll { $0 === link }
            if state.links[link.peer.id]?.isEmpty == true {
                state.links[link.peer.id] = nil
                state.hellos[link.peer.id] = nil
            }
        }
    }

    /// Records what `peer` said about itself (in its first frame, or later when that changed).
    func record(_ hello: ServerHello, from peer: NodeID) {
        state.withLock { $0.hellos[peer] = hello }
    }

    func hello(of peer: NodeID) -> ServerHello? { state.withLock { $0.hellos[peer] } }
    func link(to id: NodeID) -> Link? { state.withLock { $0.links[id]?.first } }
    var connectedIDs: Set<NodeID> { state.withLock { Set($0.links.keys) } }
    var all: [Link] { state.withLock { $0.links.values.compactMap(\.first) } }

    /// A connected peer that said it belongs to a running cluster.
    var anyMember: NodeID? {
        state.withLock { state in state.hellos.first { state.links[$0.key] != nil && $0.value.isMember }?.key }
    }

    func closeAll() {
        for link in state.withLock({ $0.links.values.flatMap { $0 } }) { link.close() }
    }
}
