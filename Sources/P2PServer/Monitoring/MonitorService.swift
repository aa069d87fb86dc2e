import Foundation
import Hummingbird
import Logging
import NIOCore
import P2PCore
import ServiceLifecycle

/// The monitor: an HTTP server on ``ServerConfiguration/monitorAddress`` with `/healthz`,
/// `/readyz`, `/status`, `/metrics` and the status page at `/`. It runs as a service of the
/// server's `ServiceGroup`, so it starts and stops with the server.
///
/// It owns the HTTP listener.
final class MonitorService: Service, Sendable {
    let context: ServerContext
    let address: HostPort
    /// The server it reports on (made by the server's ``P2PServer/run()`` and released with it).
    private let server: P2PServer
    /// The port the monitor listens on, once bound.
    let boundPort = Latch<Int>()

    init(context: ServerContext, address: HostPort, server: P2PServer) {
        self.context = context
        self.address = address
        self.server = server
    }

    func run() async {
        let logger = context.logger
        let secret = context.configuration.adminSecret
        if secret == nil, !["127.0.0.1", "::1", "localhost"].contains(address.host) {
            logger.warning("the monitor on \(address) serves /status and /metrics without credentials (no admin secret): bind it to localhost")
        }
        let router = Router()
        router.add(middleware: MonitorAuth(secret: secret))
        let server = self.server
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz") { _, _ in
            let readiness = await server.readiness()
            return try Self.json(readiness, status: readiness.ready ? .ok : .serviceUnavailable)
        }
        router.get("/status") { _, _ in
            guard let status = await server.monitorStatus() else {
                return Self.unavailable("this server has not formed or joined a cluster yet")
            }
            return try Self.json(status, status: .ok)
        }
        router.get("/metrics") { _, _ in
            await server.refreshMetrics()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: server.metrics.exposition()))
            )
        }
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: StatusPage.contentSecurityPolicy],
                body: .init(byteBuffer: ByteBuffer(string: StatusPage.html))
            )
        }
        var httpLogger = logger
        httpLogger.logLevel = max(logger.logLevel, .notice)
        let boundPort = self.boundPort
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "p2pcore"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                boundPort.set(port)
                logger.info("monitor listening", metadata: ["p2p.monitor": "http://\(HostPort(host: self.address.host, port: port))/"])
            },
            logger: httpLogger
        )
        defer { _ = boundPort.close() }
        // The HTTP server runs in a group of its own that is always shut down gracefully, also
        // when the server is cancelled (``P2PServer/shutdown()``): cancelled, it would drop its
        // connections and log errors. A monitor that cannot listen does not stop the server.
        let group = ServiceGroup(configuration: .init(services: [application], logger: httpLogger))
        let running = Task { try await group.run() }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                _ = await running.result
            } onGracefulShutdown: {
                Task { await group.triggerGracefulShutdown() }
            }
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
        if case .failure(let error) = await running.result {
            logger.error("the monitor stopped: \(error)", metadata: ["p2p.monitor": "\(address)"])
            // A service that returns ends the server's group: wait for the server's own end.
            try? await gracefulShutdown()
        }
    }

    private static func text(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func unavailable(_ reason: String) -> Response {
        (try? json(Readiness(ready: false, reason: reason), status: .serviceUnavailable)) ?? text(reason + "\n", status: .serviceUnavailable)
    }

    private static func json(_ value: some Encodable, status: HTTPResponse.Status) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value)))
        )
    }
}
