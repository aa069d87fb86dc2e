import ClientProtocol
import MessageModel
import P2PCore
import Synchronization
import Transport
import WireCodec

/// One simulated client: its own identity (key pair, id derived from the key), its own links to
/// the servers the real client's `AttachmentPlan` picks (at most
/// ``FleetConfiguration/maximumAttachedServers``, with its fall-over), each kept open and
/// redialled with the real client's backoff (``SimulatedClient/maintain(_:)``), the real client's hello, subscription and
/// acknowledgement rules, an in-memory delivery ledger (``DeliveryLedger``) and, optionally, the
/// real client's UDP observation on a socket of its own. Thousands share one process and one
/// event loop group; none has a state directory.
public final class SimulatedClient: Sendable {
    /// The client's number in its fleet (which also picks its source address).
    public let index: Int
    public let identity: NodeIdentity
    public var id: NodeID { identity.id }
    /// The loopback address its links and UDP socket leave from.
    public let host: String
    public let configuration: FleetConfiguration
    let board: AttachmentBoard
    let counters: FleetCounters
    let replies = PendingReplies<ServerPush>()
    /// Receipts for sends that wait for them: `true` delivered, `false` expired. By recipient
    /// and id: an id's sequence counts per (sender, recipient), so ids repeat across recipients.
    let receipts = Rendezvous<ReceiptKey, Bool>()

    struct ReceiptKey: Hashable, Sendable {
        let recipient: NodeID
        let id: MessageID
    }
    /// Answers to pipelined sends (``transmit(_:to:)``), by request number.
    let pipelined = Rendezvous<UInt64, SendResult>()
    let state: Mutex<State>

    struct State {
        var running = false
        var incarnation: UInt64 = 0
        var tasks: [Task<Void, Never>] = []
        /// The current link to each server (dialled, welcomed or not), by server index.
        var links: [Link?]
        var welcomed: [Bool]
        /// The server that pushes this client's mail (one at a time, as ``ClientCore`` does).
        var subscribed: Int?
        var ledger = DeliveryLedger()
        var nextSequence: [NodeID: UInt64] = [:]
        var udp: UDPEndpoint?
        var random = SystemRandomNumberGenerator()
        /// Which servers to attach to (made afresh at each start, as by a new client process).
        var plan: AttachmentPlan
        /// The task keeping the link to each server the plan wants, by server index.
        var dialers: [Int: Task<Void, Never>] = [:]
        /// Wakes the attachment supervisor (``superviseAttachments(_:)``).
        var planSignal: AsyncStream<Void>.Continuation?
    }

    init(index: Int, identity: NodeIdentity, configuration: FleetConfiguration, board: AttachmentBoard, counters: FleetCounters) {
        self.index = index
        self.identity = identity
        host = SourceAddress.host(forClient: index)
        self.configuration = configuration
        self.board = board
        self.counters = counters
        let plan = AttachmentPlan(addresses: configuration.servers, client: identity.id, maximum: configuration.maximumAttachedServers)
        state = Mutex(State(links: configuration.servers.map { _ in nil }, welcomed: configuration.servers.map { _ in false }, plan: plan))
    }

    /// Starts (or restarts, as a client process would, with a new incarnation) the links to
    /// the servers its plan wants and the UDP observation.
    public func start() {
        state.withLock { state in
            guard !state.running else { return }
            state.running = true
            state.incarnation = UInt64.random(in: 1...UInt64.max)
            state.plan = AttachmentPlan(addresses: configuration.servers, client: id, maximum: configuration.maximumAttachedServers)
            let (changes, signal) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
            state.planSignal = signal
            signal.yield()
            state.tasks.append(Task { await self.superviseAttachments(changes) })
            if configuration.observeUDP { state.tasks.append(Task { await self.observeForever() }) }
        }
    }

    /// Closes every link and the UDP socket; waits end without an answer. The ledger stays (a
    /// real client keeps it on disk).
    public func stop() {
        let (tasks, links, udp) = state.withLock { state in
            state.running = false
            state.planSignal?.finish()
            defer {
                state.tasks = []
                state.dialers = [:]
                state.planSignal = nil
                state.udp = nil
            }
            return (state.tasks + state.dialers.values, state.links.compactMap { $0 }, state.udp)
        }
        for task in tasks { task.cancel() }
        for link in links { link.close() }
        udp?.close()
        replies.failAll(CancellationError())
        receipts.cancelAll()
        pipelined.cancelAll()
    }

    var isRunning: Bool { state.withLock { $0.running } }

    /// The link configuration of the current run (its incarnation changes with each start), with
    /// the real client's 15 s handshake wait for server dials (`ServerDialer.handshakeTimeout`).
    var linkConfiguration: LinkConfiguration {
        var link = LinkConfiguration(identity: identity, secret: configuration.secret, incarnation: state.withLock { $0.incarnation })
        link.handshakeTimeout = .seconds(15)
        return link
    }

    /// Servers that welcomed this client and whose link is up.
    public var attachedServers: [Int] {
        state.withLock { state in state.welcomed.indices.filter { state.welcomed[$0] } }
    }

    /// Messages this client's "application" received so far.
    public var deliveredCount: Int { state.withLock { $0.ledger.deliveredCount } }

    /// A new message to `recipient` with the pair's next sequence number.
    public func makeMessage(to recipient: NodeID, payload: [UInt8]) -> MailMessage {
        let sequence = state.withLock { state in
            let next = state.nextSequence[recipient, default: 0] + 1
            state.nextSequence[recipient] = next
            return next
        }
        return MailMessage(id: MessageID(sender: id, sequence: sequence), recipient: recipient, payload: payload, enqueuedAtMillis: 0)
    }

    /// A welcomed link, at random, unless `preferring` is given and welcomed.
    func pickLink(preferring: Int? = nil) -> (server: Int, link: Link)? {
        state.withLock { state in
            if let preferring, state.welcomed[preferring], let link = state.links[preferring] { return (preferring, link) }
            let up = state.welcomed.indices.filter { state.welcomed[$0] && state.links[$0] != nil }
            guard let server = up.randomElement(using: &state.random), let link = state.links[server] else { return nil }
            return (server, link)
        }
    }
}
