import ArgumentParser
import Foundation
import Logging
import Metrics
import P2PCore
import P2PServer
import ServiceLifecycle
import UnixSignals

/// `p2pcore-server`: runs one p2pcore server until SIGTERM or SIGINT.
@main
struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2pcore-server",
        abstract: "Runs a p2pcore server (a Raft member that keeps durable client mailboxes).",
        discussion: """
        Every server needs two secrets of at least 128 bits: the cluster secret (the client
        credential: every client holds it) and the server secret (held by servers only). Make them
        with `p2pcore-server generate-secret` and pass them in files or the environment
        (P2PCORE_SECRET / P2PCORE_SERVER_SECRET, or *_FILE naming a file), not on the command line.
        Admin works through the Unix socket <data-dir>/admin.sock (this user only); remote admin
        needs an admin secret (--admin-secret-file or P2PCORE_ADMIN_SECRET).

        Examples:
          umask 077; p2pcore-server generate-secret > cluster.secret; p2pcore-server generate-secret > server.secret
          p2pcore-server --secret-file cluster.secret --server-secret-file server.secret
          p2pcore-server --listen 127.0.0.1:7401 --peer 127.0.0.1:7402 --peer 127.0.0.1:7403 --data-dir /var/lib/p2pcore ...

        A new cluster forms once every first member can reach all the others (each lists them all).
        To add a server to a running cluster, start it with an empty data directory and any member as --peer:
          p2pcore-server --listen 127.0.0.1:7404 --peer 127.0.0.1:7401 --data-dir /var/lib/p2pcore-4
        """,
        subcommands: [RunCommand.self, GenerateSecretCommand.self, ClusterKeyCommand.self],
        defaultSubcommand: RunCommand.self
    )

}

/// `p2pcore-server [run]`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Runs the server until SIGTERM or SIGINT (the default).")

    @Option(help: "Address to listen on, host:port.")
    var listen = "127.0.0.1:7400"

    @Option(help: "Address other servers dial this one at, host:port (default: the listen address).")
    var advertise: String?

    @Option(name: .customLong("peer"), help: "Another server's host:port (repeat for each).")
    var peers: [String] = []

    @Option(help: "Data directory (identity and LMDB data).")
    var dataDir = "./p2pcore-data"

    @Option(help: "File holding the cluster secret, the client credential (or P2PCORE_SECRET / P2PCORE_SECRET_FILE).")
    var secretFile: String?

    @Option(help: "The cluster secret itself (visible to other users in the process list: prefer --secret-file).")
    var secret: String?

    @Option(help: "File holding the server secret, the server credential (or P2PCORE_SERVER_SECRET / P2PCORE_SERVER_SECRET_FILE).")
    var serverSecretFile: String?

    @Option(help: "File holding the admin secret for remote admin (or P2PCORE_ADMIN_SECRET / P2PCORE_ADMIN_SECRET_FILE; default: admin through the local socket only).")
    var adminSecretFile: String?

    @Flag(help: "Development only: accept missing or weak secrets (fixed, publicly known development secrets fill in).")
    var insecureDevelopmentMode = false

    @Option(help: "Serve /healthz, /readyz, /status, /metrics and the status page on host:port (default: off). With an admin secret all but /healthz and /readyz need it; without one, bind to localhost.")
    var monitor: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let (host, port) = try Self.parseAddress(listen)
        var configuration = ServerConfiguration()
        configuration.listenHost = host
        configuration.listenPort = port
        configuration.peers = peers
        if let advertise {
            guard HostPort(advertise) != nil else { throw ValidationError("expected host:port for --advertise, got '\(advertise)'") }
            configuration.advertiseAddress = advertise
        }
        configuration.dataDirectory = dataDir
        configuration.secret = try Secret.resolve(value: secret, file: secretFile, environment: "P2PCORE_SECRET") ?? ""
        configuration.serverSecret = try Secret.resolve(value: nil, file: serverSecretFile, environment: "P2PCORE_SERVER_SECRET") ?? ""
        configuration.adminSecret = try Secret.resolve(value: nil, file: adminSecretFile, environment: "P2PCORE_ADMIN_SECRET")
        configuration.insecureDevelopmentMode = insecureDevelopmentMode
        if let monitor {
            guard let address = HostPort(monitor) else { throw ValidationError("expected host:port for --monitor, got '\(monitor)'") }
            configuration.monitorAddress = address
        }
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "p2pcore.server")
        let server = try P2PServer(configuration: configuration, logger: logger)
        // Anything in this process that reports through swift-metrics lands on /metrics too.
        MetricsSystem.bootstrap(server.metrics.factory)
        let group = ServiceGroup(
            services: [server],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }

    static func parseAddress(_ text: String) throws -> (String, Int) {
        guard let address = HostPort(text) else { throw ValidationError("expected host:port, got '\(text)'") }
        return (address.host, address.port)
    }
}

/// `p2pcore-server generate-secret`: prints a fresh 256-bit secret.
struct GenerateSecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-secret",
        abstract: "Prints a new random secret (256 bits, base64url) for --secret-file, --server-secret-file or --admin-secret-file."
    )

    func run() {
        print(Secret.generate())
    }
}

/// `p2pcore-server cluster-key`: prints the cluster's fingerprint, which clients may pin.
struct ClusterKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster-key",
        abstract: "Prints the cluster key fingerprint derived from the server secret (for ClientConfiguration.clusterKey).",
        discussion: "Clients that are given it trust only servers that prove this key; without it a client trusts the first cluster it attaches to."
    )

    @Option(help: "File holding the server secret (or P2PCORE_SERVER_SECRET / P2PCORE_SERVER_SECRET_FILE).")
    var serverSecretFile: String?

    func run() throws {
        guard let secret = try Secret.resolve(value: nil, file: serverSecretFile, environment: "P2PCORE_SERVER_SECRET") else {
            throw Secret.Problem.missing(what: "server secret")
        }
        print(ClusterKey(serverSecret: secret).fingerprint)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
