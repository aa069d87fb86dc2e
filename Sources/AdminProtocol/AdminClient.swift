import P2PCore
import Transport
import WireCodec

/// `mailbox-admin`'s connection to one server: an authenticated, encrypted link (the cluster
/// secret is required, as for any other link) with a throwaway identity. Use it from one task.
public final class AdminClient {
    private let link: Link
    private var frames: LinkInbound.AsyncIterator

    /// The server did not answer in time, or closed the link.
    public struct NoAnswer: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to `address` (`host:port`); throws a `TransportError` (`unreachable`,
    /// `authenticationFailed` for a wrong secret, …).
    public static func connect(
        to address: HostPort, secret: String, adminSecret: String? = nil, timeout: Duration = .seconds(5)
    ) async throws -> AdminClient {
        var configuration = LinkConfiguration(identity: .ephemeral(), secret: secret)
        configuration.connectTimeout = timeout
        configuration.handshakeTimeout = timeout
        let link = try await LinkDialer.connect(host: address.host, port: address.port, configuration: configuration)
        return AdminClient(link: link, adminSecret: adminSecret)
    }

    private let adminSecret: String?

    private init(link: Link, adminSecret: String?) {
        self.link = link
        self.adminSecret = adminSecret
        frames = link.inbound.makeAsyncIterator()
    }

    /// The id of the server this client is connected to.
    public var serverID: NodeID { link.peer.id }

    /// Sends `request` and waits (up to `timeout`) for the server's answer.
    public func request(_ request: AdminRequest, timeout: Duration = .seconds(30)) async throws -> AdminResponse {
        try link.send(type: AdminProtocol.requestFrame, AdminProtocol.encode(AdminEnvelope(adminSecret: adminSecret, request: request)))
        let link = self.link
        let watchdog = Task {
            try await Task.sleep(for: timeout)  // a deadline: the link is closed if nothing came
            link.close()
        }
        defer { watchdog.cancel() }
        while let frame = try await frames.next() {
            guard frame.type == AdminProtocol.responseFrame else { continue }
            return try AdminProtocol.decode(AdminResponse.self, from: frame.bytes)
        }
        throw NoAnswer(description: "the server closed the connection without answering (within \(timeout))")
    }

    public func close() { link.close() }
}
