import Logging
import P2PClient
import P2PCore
import ServiceLifecycle
import Synchronization

/// A server is an endpoint too: clients send to its id and it sends to theirs, with the same
/// guarantees as between clients. The endpoint is a ``P2PClient`` with the server's identity,
/// attached to the server itself over its own listener; its mailbox lives in the replicated
/// state like any client's, and its ledger in `<data directory>/endpoint`.
///
/// It owns the endpoint client.
final class ServerEndpoint: Service, Sendable {
    let context: ServerContext
    /// The endpoint, once attached.
    let client = Latch<P2PClient>()
    /// The port the server listens on (known once bound).
    private let port = Mutex(0)

    init(context: ServerContext) {
        self.context = context
    }

    func bind(port: Int) {
        self.port.withLock { $0 = port }
    }

    /// Attaches the endpoint (retrying until the cluster accepts it), keeps it until cancelled or
    /// shut down, then shuts it down.
    func run() async {
        await cancelWhenGracefulShutdown {
            await self.attach()
            try? await gracefulShutdown()
        }
        await client.close()?.shutdown()
    }

    private func attach() async {
        let configuration = context.configuration
        let logger = context.logger
        let host = HostPort.isWildcard(configuration.listenHost) ? "127.0.0.1" : configuration.listenHost
        var clientConfiguration = ClientConfiguration(servers: [HostPort(host: host, port: port.withLock { $0 }).description])
        clientConfiguration.stateDirectory = configuration.dataDirectory + "/endpoint"
        clientConfiguration.secret = configuration.secret
        clientConfiguration.clusterKey = context.clusterKey.fingerprint
        clientConfiguration.listenHost = host
        clientConfiguration.metricsFactory = context.metrics.factory
        var endpointLogger = logger
        endpointLogger.logLevel = max(logger.logLevel, .notice)
        var failures = 0
        while !Task.isCancelled {
            do {
                let endpoint = try await P2PClient.start(clientConfiguration, identity: context.identity, logger: endpointLogger)
                client.set(endpoint)
                logger.debug("server endpoint attached")
                return
            } catch {
                failures += 1
                logger.log(level: failures % 10 == 0 ? .warning : .debug, "server endpoint not attached yet: \(error)")
            }
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
        }
    }
}
