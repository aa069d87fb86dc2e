import ClientProtocol
import Logging
import P2PCore
import Raft
import ServiceLifecycle
import Synchronization
import Transport
import WireCodec

/// What the rest of the server does with what other servers say (``P2PServer`` routes it to the
/// component concerned). The mesh has checked the sender first: see ``PeerMesh/handle(_:from:)``.
protocol PeerRouting: AnyObject, Sendable {
    /// A Raft message from a member, to this server.
    func received(_ message: RaftMessage)
    /// A chunk of a Raft snapshot (or its acknowledgement) from member `peer`.
    func received(_ transfer: SnapshotTransfer, from peer: NodeID)
    /// Answers a member's request (or a joining server's request to register itself).
    func answer(_ request: PeerRequest, from peer: NodeID) async -> PeerReply
    /// Hands an introduction a member made to the client `client` attached here.
    func introduce(_ introduction: Introduction, toClient client: NodeID) async
    /// Hands receipts a member passed on to the senders attached here.
    func deliverReceipts(_ receipts: [DeliveryReceipt])
    /// Whether this server belongs to a running cluster (said in its hellos).
    func knowsCluster() async -> Bool
    /// The servers registered in the replicated state, with their addresses.
    func registeredServers() -> [NodeID: String]
}

/// The server's links to the other servers: a full mesh of authenticated links, dialled and
/// redialled, punched through NATs, or replaced by a relay through a member linked to both.
///
/// It owns the links and what peers said in their hellos, the dialling, hole punching and
/// relaying, the membership that decides who may say what (docs/SECURITY.md), and the one
/// request/reply mechanism between servers (``ask(_:_:timeout:)``).
final class PeerMesh: Service, Sendable {
    let context: ServerContext
    var id: NodeID { context.id }
    var logger: Logger { context.logger }
    let links = PeerLinks()
    /// Each node's public UDP mapping as this server observed it (shared with the client gateway).
    let mappings: ObservedMappings
    /// Answers to this server's requests, matched to the peer each went to.
    let replies = PendingReplies<PeerReply>()
    /// Server links accepted by the listener, with their first frame, to serve.
    let accepted = AsyncStream<(Link, Frame)>.makeStream()
    /// Peer addresses being dialled, and where new ones are handed to the dialling task group.
    let dialing = Mutex<Set<String>>([])
    let dialRequests = AsyncStream<String>.makeStream()
    /// The id behind each configured peer address, once dialled.
    let resolvedPeers = Mutex<[String: NodeID]>([:])
    /// The voters of the cluster this server formed in this run (told to peers in hellos).
    let formedVoters = Mutex<Set<NodeID>>([])
    /// The members (voters and learners) of the last applied membership: the only servers whose
    /// Raft messages, requests and introductions are taken.
    let members = Mutex<Set<NodeID>>([])
    /// When this server last introduced each pair of servers to each other.
    let serverIntroductions = Mutex<[String: ContinuousClock.Instant]>([:])
    /// The address other servers dial this one at, and the UDP side of the listener (once bound).
    private let bound = Mutex<(address: String, udp: UDPEndpoint?)>(("", nil))
    private let routing = Mutex<WeakRouting>(WeakRouting())

    private struct WeakRouting {
        weak var target: (any PeerRouting)?
    }

    init(context: ServerContext, mappings: ObservedMappings) {
        self.context = context
        self.mappings = mappings
    }

    /// Where messages for the rest of the server go (held weakly: the server owns the mesh).
    func route(to target: any PeerRouting) {
        routing.withLock { $0.target = target }
    }

    var router: (any PeerRouting)? { routing.withLock { $0.target } }

    /// Records where this server listens, before ``run()``.
    func bind(advertised address: String, udp: UDPEndpoint?) {
        bound.withLock { $0 = (address, udp) }
    }

    /// The address other servers dial this one at.
    var advertisedAddress: String { bound.withLock { $0.address } }
    var udp: UDPEndpoint? { bound.withLock { $0.udp } }

    /// Runs until cancelled or shut down: serves accepted server links, dials the configured
    /// peers (and every server the cluster registers), and seeks links through NATs.
    func run() async {
        let linkConfiguration = context.linkConfiguration
        for address in context.configuration.peers { requestDial(address) }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    await withDiscardingTaskGroup { served in
                        for await (link, first) in self.accepted.stream {
                            served.addTask { await self.answer(link, first: first, kind: .tcpIn) }
                        }
                    }
                }
                group.addTask {
                    await withDiscardingTaskGroup { dials in
                        for await address in self.dialRequests.stream {
                            dials.addTask { await self.dial(address, linkConfiguration) }
                        }
                    }
                }
                if let udp = self.udp { group.addTask { await self.seekPeers(udp) } }
            }
        }
        dialRequests.continuation.finish()
        accepted.continuation.finish()
        links.closeAll()
        replies.failAll(CancellationError())
    }

    // MARK: Membership

    /// Whether `peer` is a current member of the cluster, as far as this server knows. A server
    /// that knows no membership yet (joining) takes Raft traffic from any proven server.
    func isMember(_ peer: NodeID) -> Bool {
        members.withLock { $0.isEmpty || $0.contains(peer) }
    }

    /// The applied membership changed (or was restored).
    func membershipChanged(_ membership: Membership) {
        members.withLock { $0 = membership.all }
    }

    // MARK: Sending and asking

    /// Sends `message` to `peer`, directly or through a relay.
    func send(_ message: PeerMessage, to peer: NodeID) throws {
        try links.send(message, to: peer)
    }

    /// Asks server `peer` and waits for its answer: the one request/reply mechanism between
    /// servers. Only an answer from `peer` itself is taken, whichever link or relay it comes by.
    func ask(_ peer: NodeID, _ request: PeerRequest, timeout: Duration) async throws -> PeerReply {
        guard links.canReach(peer) else { throw TransportError.unreachable("no link or relay to server \(peer)") }
        let number = replies.nextRequest()
        return try await replies.wait(for: number, timeout: timeout, origin: peer) {
            try links.send(.request(number, request), to: peer)
        }
    }

    // MARK: Hellos

    /// What this server tells its peers about itself.
    func hello() async -> ServerHello {
        let knowsCluster = await router?.knowsCluster() ?? false
        let neighbours = links.connectedIDs.sorted().map { peer in
            ServerHello.Neighbour(id: peer, address: links.hello(of: peer)?.address ?? "")
        }
        return ServerHello(
            address: advertisedAddress, isMember: knowsCluster, configuredPeers: context.configuration.peers.count,
            formedVoters: formedVoters.withLock { $0 }.sorted(), neighbours: neighbours
        )
    }

    /// Tells every connected peer what changed about this server (it formed or joined a cluster,
    /// or its links changed), and the members it reaches only through others as well.
    func broadcastHello() async {
        let message = PeerMessage.hello(await hello())
        let linked = links.connectedIDs
        for link in links.all { try? link.send(message) }
        let others = members.withLock { $0 }.union(resolvedPeers.withLock { $0.values })
        for other in others where other != id && !linked.contains(other) {
            try? links.send(message, to: other)
        }
    }

    /// Records a peer's hello, and the id behind the address it is reached at (a configured
    /// peer counts as answered whether we dialled it, it dialled us, or a neighbour knows it).
    func noteHello(_ hello: ServerHello, from peer: NodeID) {
        links.record(hello, from: peer)
        let configured = Set(context.configuration.peers)
        let learned = resolvedPeers.withLock { resolved -> Bool in
            var learned = false
            if configured.contains(hello.address), resolved[hello.address] != peer {
                resolved[hello.address] = peer
            }
            for neighbour in hello.neighbours where neighbour.id != id && configured.contains(neighbour.address) && resolved[neighbour.address] == nil {
                resolved[neighbour.address] = neighbour.id
                learned = true
            }
            return learned
        }
        // A configured peer we cannot reach ourselves learns about us through the relay.
        if learned { Task { await self.broadcastHello() } }
    }

    /// The configured peers' hellos, by id, for those that answered.
    func configuredPeerHellos() -> [(NodeID, ServerHello)] {
        let resolved = resolvedPeers.withLock { resolved in context.configuration.peers.compactMap { resolved[$0] } }
        return resolved.compactMap { peer in links.hello(of: peer).map { (peer, $0) } }
    }

    /// Starts dialling `address` (once: repeated requests for one address are ignored).
    func requestDial(_ address: String) {
        guard address != advertisedAddress, dialing.withLock({ $0.insert(address).inserted }) else { return }
        dialRequests.continuation.yield(address)
    }
}
