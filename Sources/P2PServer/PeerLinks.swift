import AdminProtocol
import P2PCore
import Synchronization
import Transport

/// The server's links to other servers, by server id, with how each was made, the last
/// ``ServerHello`` each peer sent, and the routes through other members to peers it has no link
/// to. Two servers may hold several links (each dialled the other, or a tunnel beside a TCP
/// link); frames go out on the oldest one still open and arrive on all.
final class PeerLinks: Sendable {
    /// How a link to a peer was made.
    enum Kind: Sendable {
        case tcpOut, tcpIn, udpPunched

        var status: ServerLinkStatus.Kind {
            switch self {
            case .tcpOut: .tcpOut
            case .tcpIn: .tcpIn
            case .udpPunched: .udpPunched
            }
        }
    }

    private struct State {
        var links: [NodeID: [(link: Link, kind: Kind)]] = [:]
        var hellos: [NodeID: ServerHello] = [:]
        /// Why the last attempt at a direct link to a peer failed.
        var failures: [NodeID: String] = [:]
    }

    private let state = Mutex(State())

    /// Adds `link`; returns whether it is the first link to its peer.
    @discardableResult
    func add(_ link: Link, kind: Kind) -> Bool {
        state.withLock { state in
            let first = state.links[link.peer.id]?.isEmpty ?? true
            state.links[link.peer.id, default: []].append((link, kind))
            state.failures[link.peer.id] = nil
            return first
        }
    }

    /// Removes `link`; returns whether its peer has no link left.
    @discardableResult
    func remove(_ link: Link) -> Bool {
        state.withLock { state in
            state.links[link.peer.id]?.removeAll { $0.link === link }
            guard state.links[link.peer.id]?.isEmpty == true else { return false }
            state.links[link.peer.id] = nil
            return true
        }
    }

    /// Records what `peer` said about itself (in its first frame, or later when that changed).
    /// Hellos outlive links: a peer heard from through another member counts as answered.
    func record(_ hello: ServerHello, from peer: NodeID) {
        state.withLock { $0.hellos[peer] = hello }
    }

    /// Notes why a direct link to `peer` could not be made.
    func recordFailure(_ reason: String, for peer: NodeID) {
        state.withLock { $0.failures[peer] = reason }
    }

    func hello(of peer: NodeID) -> ServerHello? { state.withLock { $0.hellos[peer] } }
    func link(to id: NodeID) -> Link? { state.withLock { $0.links[id]?.first?.link } }
    var connectedIDs: Set<NodeID> { state.withLock { Set($0.links.keys) } }
    var all: [Link] { state.withLock { $0.links.values.compactMap(\.first?.link) } }

    /// The peer whose hello says it is reached at `address`.
    func peer(at address: String) -> NodeID? {
        state.withLock { $0.hellos.first { $0.value.address == address }?.key }
    }

    /// A connected peer that said it belongs to a running cluster.
    var anyMember: NodeID? {
        state.withLock { state in state.hellos.first { state.links[$0.key] != nil && $0.value.isMember }?.key }
    }

    /// The linked peer through which `peer` can be reached when there is no link to it: the first
    /// (by id) whose latest hello lists a link to `peer`.
    func relay(to peer: NodeID) -> Link? {
        state.withLock { state in
            guard state.links[peer] == nil else { return nil }
            let via = state.links.keys.sorted().first { state.hellos[$0]?.linked.contains(peer) == true }
            return via.flatMap { state.links[$0]?.first?.link }
        }
    }

    /// Sends `message` to `peer`: on a link to it, or inside a ``PeerMessage/relay(to:_:)``
    /// through a member linked to it. Throws when neither exists.
    func send(_ message: PeerMessage, to peer: NodeID) throws {
        if let link = link(to: peer) { return try link.send(message) }
        guard let via = relay(to: peer) else { throw TransportError.unreachable("no link or relay to server \(peer)") }
        try via.send(.relay(to: peer, message))
    }

    /// Whether `peer` can be sent to, directly or through a relay.
    func canReach(_ peer: NodeID) -> Bool { link(to: peer) != nil || relay(to: peer) != nil }

    /// How this server reaches each of `members` (itself left out).
    func status(of members: [NodeID], me: NodeID) -> [ServerLinkStatus] {
        state.withLock { state in
            members.filter { $0 != me }.map { peer in
                if let first = state.links[peer]?.first {
                    return ServerLinkStatus(peer: peer, kind: first.kind.status)
                }
                let via = state.links.keys.sorted().first { state.hellos[$0]?.linked.contains(peer) == true }
                if let via { return ServerLinkStatus(peer: peer, kind: .relayed, via: via, reason: state.failures[peer]) }
                return ServerLinkStatus(peer: peer, kind: .none, reason: state.failures[peer] ?? "no link and no member linked to it")
            }
        }
    }

    func closeAll() {
        for link in state.withLock({ $0.links.values.flatMap { $0.map(\.link) } }) { link.close() }
    }
}

extension Link {
    /// Sends a message to the server at the other end of this server link.
    func send(_ message: PeerMessage) throws {
        try send(type: FrameType.serverPeer.rawValue, message.encoded())
    }
}
