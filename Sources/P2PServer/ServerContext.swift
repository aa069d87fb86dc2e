import Foundation
import Logging
import P2PCore
import Transport

/// What every component of a server shares and nobody changes: who the server is, how it was
/// configured, and the rules for its links (docs/SECURITY.md).
struct ServerContext: Sendable {
    let id: NodeID
    let identity: NodeIdentity
    let configuration: ServerConfiguration
    /// The cluster's signing key (derived from the server secret), with which this server proves
    /// to clients that it is a server of the cluster.
    let clusterKey: ClusterKey
    let logger: Logger
    let incarnation = UInt64.random(in: 1...UInt64.max)
    /// This server's metrics (its own registry: servers in one process do not mix).
    let metrics = ServerMetrics()
    /// Bytes queued on all of this server's links to clients (see ``ClientSession/serverPushBudget``).
    let clientQueuedBytes = QueuedBytesGauge()

    /// The link configuration of this server: it listens as a server, accepts clients and
    /// servers, and operators only when a remote admin secret is configured.
    var linkConfiguration: LinkConfiguration {
        var link = LinkConfiguration(identity: identity, secret: configuration.secret, incarnation: incarnation)
        link.serverSecret = configuration.serverSecret
        link.adminSecret = configuration.adminSecret
        link.role = .server
        link.acceptedRoles = configuration.adminSecret == nil ? [.client, .server] : [.client, .server, .admin]
        // Each link may queue up to `maximumQueuedBytes`; fewer links per address bound what one
        // address can make a server hold (clients behind one NAT beyond this need a higher cap).
        link.maximumLinksPerHost = 256
        link.maximumPendingHandshakes = Self.pendingHandshakeCap
        link.listenBacklog = 4096
        link.clientQueuedBytes = clientQueuedBytes
        return link
    }

    /// Handshakes in progress (and, in ``LinkAcceptor``, links awaiting their first frame) at
    /// once: an eighth of the open-file limit (each holds a descriptor), from 256 to 4,096. In a
    /// reconnect storm the handshakes wait mostly on their clients, not on this server's CPU, so
    /// a cap of 256 left the rest in the listen queue until their clients gave up and redialled.
    /// A flood of half-open connections is still bounded: by this cap, the per-address caps and
    /// the handshake timeout.
    static let pendingHandshakeCap: Int = {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 256 }
        return Int(min(4096, max(256, limit.rlim_cur / 8)))
    }()

    /// Where the local admin socket lives.
    var adminSocketPath: String { configuration.dataDirectory + "/admin.sock" }
    /// Where a server notes that the cluster removed it (so that a restart does not re-register it).
    var removedMarkerPath: String { configuration.dataDirectory + "/removed" }

    /// Servers must hold ids derived from their keys; clients may hold an older random id, which
    /// is then checked against the registry before it is served (``ClientGateway``).
    @Sendable static func vet(_ peer: PeerInfo) -> Bool {
        switch peer.role {
        case .server: peer.id.isDerived(from: peer.publicKey)
        case .client, .admin: true
        }
    }
}

/// How a server reads the frames of one link.
typealias LinkFrameIterator = LinkInbound.AsyncIterator
