import ArgumentParser
import Foundation
import LogFormats
import Logging
import Metrics
import P2PCore
import P2PServer
import P2PServerSettings
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

        Every run option is also a config-file key and an environment variable: --data-dir is
        "dataDir" in the JSON file given by --config (or P2PCORE_CONFIG) and P2PCORE_DATA_DIR.
        Flags win over the environment, which wins over the file, which wins over the defaults;
        `p2pcore-server show-config` prints every setting and where it came from.

        Examples:
          umask 077; p2pcore-server generate-secret > cluster.secret; p2pcore-server generate-secret > server.secret
          p2pcore-server --secret-file cluster.secret --server-secret-file server.secret
          p2pcore-server --listen 127.0.0.1:7401 --peer 127.0.0.1:7402 --peer 127.0.0.1:7403 --data-dir /var/lib/p2pcore ...

        A new cluster forms once every first member can reach all the others (each lists them all).
        To add a server to a running cluster, start it with an empty data directory and any member as --peer:
          p2pcore-server --listen 127.0.0.1:7404 --peer 127.0.0.1:7401 --data-dir /var/lib/p2pcore-4
        """,
        version: P2PCoreVersion.current,
        subcommands: [RunCommand.self, ShowConfigCommand.self, GenerateSecretCommand.self, ClusterKeyCommand.self],
        defaultSubcommand: RunCommand.self
    )

}

/// `p2pcore-server [run]`: the daemon.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Runs the server until SIGTERM or SIGINT (the default).")

    @OptionGroup var options: RunOptions

    func run() async throws {
        let settings = try await ServerSettings.load(options: options)
        let configuration = try settings.configuration(options: options)
        settings.logFormat.bootstrap(level: settings.logLevel)
        let logger = Logger(label: "p2pcore.server")
        let openFiles = OpenFileLimit.raiseToHardLimit()
        logger.debug("open-file limit", metadata: ["limit": "\(openFiles)"])
        if let file = settings.configFile { logger.info("settings read", metadata: ["config": "\(file)"]) }
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
