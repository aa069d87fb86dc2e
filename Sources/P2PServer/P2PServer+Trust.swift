import Logging
import P2PCore
import Synchronization
import WireCodec
import Transport

/// Who may do what on a server's links (docs/SECURITY.md): roles are proven by the handshake,
/// ids by their keys, membership by the replicated state.
extension P2PServer {
    /// Why a server refuses to start.
    public enum StartError: Error, Equatable, Sendable, CustomStringConvertible {
        /// The data directory holds an identity from before ids were derived from keys.
        case legacyIdentity(String)

        public var description: String {
            switch self {
            case .legacyIdentity(let directory):
                "the identity in \(directory) was created before server ids were derived from their keys; migrate explicitly: "
                    + "remove the server from its cluster (`mailbox-admin server remove <id>`), move the data directory away, "
                    + "start the server on an empty one and add it back (`mailbox-admin server add <address>`)"
            }
        }
    }

    /// Development secrets, used only with ``ServerConfiguration/insecureDevelopmentMode``.
    static let developmentSecret = "p2pcore-insecure-development-secret"
    static let developmentServerSecret = "p2pcore-insecure-development-server-secret"

    /// Refuses missing or weak secrets, or (development mode) fills in the development ones.
    static func checkSecrets(_ configuration: inout ServerConfiguration, _ logger: Logger) throws {
        if configuration.insecureDevelopmentMode {
            if configuration.secret.isEmpty { configuration.secret = developmentSecret }
            if configuration.serverSecret.isEmpty { configuration.serverSecret = developmentServerSecret }
            logger.warning("insecure development mode: secrets are not checked; never use this in production")
            return
        }
        guard !configuration.secret.isEmpty else { throw Secret.Problem.missing(what: "cluster secret") }
        guard !configuration.serverSecret.isEmpty else { throw Secret.Problem.missing(what: "server secret") }
        try Secret.validate(configuration.secret, what: "cluster secret")
        try Secret.validate(configuration.serverSecret, what: "server secret")
        if let admin = configuration.adminSecret { try Secret.validate(admin, what: "admin secret") }
        guard Set([configuration.secret, configuration.serverSecret, configuration.adminSecret ?? ""]).count == 3 else {
            throw Secret.Problem.weak(what: "set of secrets (the cluster, server and admin secrets must differ)", bits: 0)
        }
    }

    /// The link configuration of this server: it listens as a server, accepts clients and
    /// servers, and operators only when a remote admin secret is configured.
    func serverLinkConfiguration() -> LinkConfiguration {
        var link = LinkConfiguration(identity: identity, secret: configuration.secret, incarnation: incarnation)
        link.serverSecret = configuration.serverSecret
        link.adminSecret = configuration.adminSecret
        link.role = .server
        link.acceptedRoles = configuration.adminSecret == nil ? [.client, .server] : [.client, .server, .admin]
        // Each link may queue up to `maximumQueuedBytes`; fewer links per address bound what one
        // address can make a server hold (clients behind one NAT beyond this need a higher cap).
        link.maximumLinksPerHost = 256
        return link
    }

    /// Where the local admin socket lives.
    var adminSocketPath: String { configuration.dataDirectory + "/admin.sock" }

    /// Servers must hold ids derived from their keys; clients may hold an older random id, which
    /// is then checked against the registry before it is served (see `serveClient`).
    @Sendable static func vet(_ peer: PeerInfo) -> Bool {
        switch peer.role {
        case .server: peer.id.isDerived(from: peer.publicKey)
        case .client, .admin: true
        }
    }

    /// Whether `peer` is a current member of the cluster, as far as this server knows. A server
    /// that knows no membership yet (joining) takes Raft traffic from any proven server.
    func isMember(_ peer: NodeID) -> Bool {
        members.withLock { $0.isEmpty || $0.contains(peer) }
    }
}

/// How a server reads the frames of one link.
typealias LinkFrameIterator = LinkInbound.AsyncIterator
