import Delivery
import Prometheus

/// One server's metrics, in a Prometheus registry of its own.
///
/// Every ``P2PServer`` owns one (``P2PServer/metrics``), so that servers running in one process
/// (tests, the simulator) never mix their series and no process-global `MetricsSystem` bootstrap
/// is needed. Hot-path updates are single atomic operations on metric objects created once here
/// (labels included): nothing is looked up or allocated per message. Gauges that describe state
/// (Raft indexes, mailbox depth, attached clients) are read from the server when scraped
/// (``P2PServer/refreshMetrics()``), not maintained on every change.
public final class ServerMetrics: Sendable {
    /// Why the server turned a connection or frame away (the `reason` label of
    /// `p2pcore_rejected_total`).
    public enum Rejection: String, CaseIterable, Sendable {
        /// The link handshake failed (wrong secret, bad key, not a p2pcore peer).
        case handshake
        /// Too many links from one host (or in total) waited for their first frame.
        case admission
        /// A link's first frame did not fit its role.
        case firstFrame = "first_frame"
        /// A client connected before the cluster had formed.
        case clusterNotFormed = "cluster_not_formed"
        /// A client id that is neither derived from its key nor registered with it, or bound to another key.
        case identity
        /// A client already held the maximum number of links to this server.
        case tooManyLinks = "too_many_links"
        /// A client broke the protocol (a frame type or request not allowed on its link).
        case protocolViolation = "protocol"
    }

    /// The registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    /// A swift-metrics factory over ``registry``: pass it to code that reports through
    /// swift-metrics (the server's own endpoint does), or bootstrap `MetricsSystem` with it.
    public let factory: PrometheusMetricsFactory

    // Raft (state gauges are refreshed when scraped).
    let raftRole: [String: Gauge]
    let raftTerm: Gauge
    let raftCommitIndex: Gauge
    let raftAppliedIndex: Gauge
    let raftMembers: Gauge
    let raftLeaderKnown: Gauge
    /// Counted by the replica (``ReplicaMetrics``).
    let replica: ReplicaMetrics

    // Relay and clients.
    let relayedMessages: Counter
    let relayedBytes: Counter
    let introductions: Counter
    let mailboxMessages: Gauge
    let mailboxBytes: Gauge
    let mailboxOldestAge: Gauge
    let attachedClients: Gauge
    let directPairs: Gauge
    private let rejections: [Rejection: Counter]
    let pushedMessages: Counter
    let silentRestarts: Counter
    let stuckRestarts: Counter
    let clientQueuedBytes: Gauge

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        factory = PrometheusMetricsFactory(registry: registry)
        raftRole = Dictionary(uniqueKeysWithValues: ["follower", "learner", "preCandidate", "candidate", "leader"].map { role in
            (role, registry.makeGauge(descriptor: .p2pcore("raft_role", "1 for this server's current Raft role, 0 for the others"), labels: [("role", role)]))
        })
        raftTerm = registry.makeGauge(descriptor: .p2pcore("raft_term", "This server's current Raft term"))
        raftCommitIndex = registry.makeGauge(descriptor: .p2pcore("raft_commit_index", "The highest log index this server knows to be committed"))
        raftAppliedIndex = registry.makeGauge(descriptor: .p2pcore("raft_applied_index", "The highest log index applied to this server's mailboxes"))
        raftMembers = registry.makeGauge(descriptor: .p2pcore("raft_members", "Members (voters and learners) of the cluster as this server knows it"))
        raftLeaderKnown = registry.makeGauge(descriptor: .p2pcore("raft_leader_known", "1 when this server knows a leader, else 0"))
        replica = ReplicaMetrics(registry: registry)
        relayedMessages = registry.makeCounter(descriptor: .p2pcore("relayed_messages_total", "Messages this server accepted from clients into mailboxes"))
        relayedBytes = registry.makeCounter(descriptor: .p2pcore("relayed_bytes_total", "Payload bytes of the relayed messages"))
        introductions = registry.makeCounter(descriptor: .p2pcore("introductions_total", "Direct-path introductions this server brokered between two clients"))
        mailboxMessages = registry.makeGauge(descriptor: .p2pcore("mailbox_messages", "Messages queued in all mailboxes (as applied on this server)"))
        mailboxBytes = registry.makeGauge(descriptor: .p2pcore("mailbox_bytes", "Payload bytes queued in all mailboxes"))
        mailboxOldestAge = registry.makeGauge(descriptor: .p2pcore("mailbox_oldest_message_age_seconds", "Age of the oldest queued message in any mailbox (0 when all are empty)"))
        attachedClients = registry.makeGauge(descriptor: .p2pcore("attached_clients", "Clients linked to this server now"))
        directPairs = registry.makeGauge(descriptor: .p2pcore("direct_pairs", "Client pairs with a direct path, as reported by the clients linked to this server"))
        pushedMessages = registry.makeCounter(descriptor: .p2pcore("pushed_messages_total", "Messages pushed to clients from their mailboxes, pushes again included"))
        let restarts = MetricNameDescriptor.p2pcore("push_restarts_total", "Times a client's push started over from the head of its mailbox (its window goes again), by reason")
        silentRestarts = registry.makeCounter(descriptor: restarts, labels: [("reason", "silent")])
        stuckRestarts = registry.makeCounter(descriptor: restarts, labels: [("reason", "stuck")])
        clientQueuedBytes = registry.makeGauge(descriptor: .p2pcore("client_queued_bytes", "Bytes queued for sending on all links to clients"))
        rejections = Dictionary(uniqueKeysWithValues: Rejection.allCases.map { reason in
            (reason, registry.makeCounter(descriptor: .p2pcore("rejected_total", "Connections and frames this server turned away, by reason"), labels: [("reason", reason.rawValue)]))
        })
    }

    /// Counts one rejected connection or frame.
    func rejected(_ reason: Rejection) {
        rejections[reason]?.increment()
    }

    /// Counts pushes, and the start-overs of a push window since it was last reported.
    func pushed(_ count: Int, restarts: PushWindow.Restarts) {
        if count > 0 { pushedMessages.increment(by: Int64(count)) }
        if restarts.silent > 0 { silentRestarts.increment(by: Int64(restarts.silent)) }
        if restarts.stuck > 0 { stuckRestarts.increment(by: Int64(restarts.stuck)) }
    }

    /// Counts one introduction brokered.
    func introduced() {
        introductions.increment()
    }

    /// Counts one message relayed into a mailbox.
    func relayed(bytes: Int) {
        relayedMessages.increment()
        relayedBytes.increment(by: Int64(bytes))
    }

    /// The registry in the Prometheus text format (version 0.0.4).
    public func exposition() -> [UInt8] {
        registry.emitToBuffer()
    }
}
