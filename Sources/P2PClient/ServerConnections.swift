import ClientProtocol
import P2PCore
import Transport

/// The client's links to its configured servers, by address, and why the missing ones are missing.
struct ServerConnections {
    private struct Connection {
        var link: Link?
        var server: NodeID?
        var lastError: String?
        /// Whether the server announced it takes batches (``LinkFeatures``).
        var batches = false
    }

    private var connections: [String: Connection] = [:]
    /// The leader as the last welcoming server reported it.
    private(set) var leader: NodeID?

    init(addresses: [String]) {
        for address in addresses { connections[address] = Connection() }
    }

    /// The server at `address` welcomed the client on `link`; returns the server that address
    /// led to before, if it was another one and is no longer connected at all.
    mutating func connected(_ address: String, _ link: Link, server: NodeID, leader: NodeID?) -> NodeID? {
        let previous = connections[address]?.server
        connections[address] = Connection(link: link, server: server, lastError: nil)
        self.leader = leader
        guard let previous, previous != server, self.link(to: previous) == nil else { return nil }
        return previous
    }

    /// The link to `address` (or an attempt to make one) ended; returns the server that is no
    /// longer connected at all, if one is.
    mutating func disconnected(_ address: String, _ link: Link?, reason: String) -> NodeID? {
        guard link == nil || connections[address]?.link === link else {
            connections[address]?.lastError = reason
            return nil
        }
        let server = connections[address]?.server
        connections[address] = Connection(link: nil, server: nil, lastError: reason)
        guard let server, self.link(to: server) == nil else { return nil }
        return server
    }

    /// A link to `server`, if one is up.
    func link(to server: NodeID) -> Link? {
        connections.values.first { $0.server == server && $0.link != nil }?.link
    }

    /// Where requests to `server` go: a link to it, and whether that link takes batches.
    func outlet(to server: NodeID) -> ServerRequests.Outlet? {
        guard let connection = connections.values.first(where: { $0.server == server && $0.link != nil }), let link = connection.link else { return nil }
        return (link, connection.batches)
    }

    /// The server on `link` announced `features`.
    mutating func announced(_ features: LinkFeatures, on link: Link) {
        guard let address = connections.first(where: { $0.value.link === link })?.key else { return }
        connections[address]?.batches = features.contains(.batches)
    }

    var links: [Link] { connections.values.compactMap(\.link) }
    /// The addresses with a link up, sorted.
    var connectedAddresses: [String] { connections.filter { $0.value.link != nil }.map(\.key).sorted() }
    var isEmpty: Bool { links.isEmpty }

    var status: (leader: NodeID?, connected: [NodeID], unconnected: [String]) {
        (leader, connections.values.compactMap(\.server).sorted(), connections.filter { $0.value.link == nil }.map(\.key).sorted())
    }

    /// Why no server accepted the client: a refusal if one said so, else every address's reason.
    var startFailure: ClientError {
        var reasons: [String: String] = [:]
        for (address, connection) in connections { reasons[address] = connection.lastError ?? "no answer" }
        let refusal = reasons.values.first { $0.contains("refused by the cluster") }
        return refusal.map { .refused($0) } ?? .noReachableServer(reasons: reasons)
    }
}
