import P2PCore
import Synchronization
import Transport

/// The server's open links to other servers, by server id. Two servers may hold two links
/// (each dialled the other); messages go out on the oldest one still open, and arrive on all.
final class PeerLinks: Sendable {
    private let links = Mutex<[NodeID: [Link]]>([:])

    func add(_ link: Link) {
        links.withLock { $0[link.peer.id, default: []].append(link) }
    }

    func remove(_ link: Link) {
        links.withLock { links in
            links[link.peer.id]?.removeAll { $0 === link }
            if links[link.peer.id]?.isEmpty == true { links[link.peer.id] = nil }
        }
    }

    func link(to id: NodeID) -> Link? { links.withLock { $0[id]?.first } }
    var connectedIDs: Set<NodeID> { links.withLock { Set($0.keys) } }

    func closeAll() {
        for link in links.withLock({ $0.values.flatMap { $0 } }) { link.close() }
    }
}
