import ArgumentParser
import Foundation
import Logging
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
        With no options it runs a one-server cluster on 127.0.0.1:7400 with its data in ./p2pcore-data.

        Examples:
          p2pcore-server
          p2pcore-server --listen 127.0.0.1:7401 --peer 127.0.0.1:7402 --peer 127.0.0.1:7403 --data-dir /var/lib/p2pcore

        A new cluster forms once every first member can reach all the others (each lists them all).
        To add a server to a running cluster, start it with an empty data directory and any member as --peer:
          p2pcore-server --listen 127.0.0.1:7404 --peer 127.0.0.1:7401 --data-dir /var/lib/p2pcore-4
        """
    )

    @Option(help: "Address to listen on, host:port.")
    var listen = "127.0.0.1:7400"

    @Option(help: "Address other servers dial this one at, host:port (default: the listen address).")
    var advertise: String?

    @Option(name: .customLong("peer"), help: "Another server's host:port (repeat for each).")
    var peers: [String] = []

    @Option(help: "Data directory (identity and LMDB data).")
    var dataDir = "./p2pcore-data"

    @Option(help: "Cluster secret (or P2PCORE_SECRET).")
    var secret: String?

    @Option(help: "Admin secret required by mailbox-admin requests (or P2PCORE_ADMIN_SECRET; default: none).")
    var adminSecret: String?

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
        if let secret = secret ?? ProcessInfo.processInfo.environment["P2PCORE_SECRET"] {
            configuration.secret = secret
        }
        configuration.adminSecret = adminSecret ?? ProcessInfo.processInfo.environment["P2PCORE_ADMIN_SECRET"]
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "p2pcore.server")
        let server = try P2PServer(configuration: configuration, logger: logger)
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

extension Logger.Level: @retroactive ExpressibleByArgument {}
