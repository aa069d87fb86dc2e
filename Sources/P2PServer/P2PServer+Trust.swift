import Logging
import P2PCore

/// The secrets a server refuses to start without.
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
}
