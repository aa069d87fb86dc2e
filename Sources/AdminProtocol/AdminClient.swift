import NIOCore
import NIOPosix
import P2PCore
import Transport
import WireCodec

/// `mailbox-admin`'s connection to one server, in one of two ways:
/// - the server's local Unix socket (`<data directory>/admin.sock`): the file's permissions are
///   the credential (the server's user and root only);
/// - a remote link (`host:port`) with the operator role, proven by the admin secret in the
///   handshake, with a throwaway identity.
///
/// Use it from one task.
public final class AdminClient {
    private enum Channel {
        case link(Link, frames: LinkInbound.AsyncIterator)
        case socket(path: String)
    }
    private var channel: Channel

    /// The server did not answer in time, or closed the link.
    public struct NoAnswer: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to the server at `address` (`host:port`) as an operator; throws a `TransportError`
    /// (`unreachable`, `authenticationFailed` for a wrong admin secret or a server that takes no
    /// remote admin, …).
    public static func connect(to address: HostPort, adminSecret: String, timeout: Duration = .seconds(5)) async throws -> AdminClient {
        var configuration = LinkConfiguration(identity: .ephemeral(), secret: "")
        configuration.adminSecret = adminSecret
        configuration.connectTimeout = timeout
        configuration.handshakeTimeout = timeout
        let link = try await LinkDialer.connect(host: address.host, port: address.port, role: .admin, configuration: configuration)
        return AdminClient(.link(link, frames: link.inbound.makeAsyncIterator()))
    }

    /// Talks to the server through its local admin socket (each request opens a connection).
    public static func local(socket path: String) -> AdminClient {
        AdminClient(.socket(path: path))
    }

    private init(_ channel: Channel) {
        self.channel = channel
    }

    /// Sends `request` and waits (up to `timeout`) for the server's answer.
    public func request(_ request: AdminRequest, timeout: Duration = .seconds(30)) async throws -> AdminResponse {
        let bytes = try AdminProtocol.encode(request)
        switch channel {
        case .link(let link, var frames):
            defer { channel = .link(link, frames: frames) }
            try link.send(type: AdminProtocol.requestFrame, bytes)
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
        case .socket(let path):
            return try await Self.ask(socket: path, bytes, timeout: timeout)
        }
    }

    private static func ask(socket path: String, _ bytes: [UInt8], timeout: Duration) async throws -> AdminResponse {
        let connection: NIOAsyncChannel<Frame, Frame>
        do {
            connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(unixDomainSocketPath: path) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameSize: 64 << 20)))
                        try channel.pipeline.syncOperations.addHandler(FrameWriter())
                        return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw TransportError.unreachable("admin socket \(path) (\(error))")
        }
        let underlying = connection.channel
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            underlying.close(promise: nil)
        }
        defer { watchdog.cancel() }
        return try await connection.executeThenClose { inbound, outbound in
            try await outbound.write(Frame(type: AdminProtocol.requestFrame, bytes: bytes))
            for try await frame in inbound where frame.type == AdminProtocol.responseFrame {
                return try AdminProtocol.decode(AdminResponse.self, from: frame.bytes)
            }
            throw NoAnswer(description: "the server closed the admin socket without answering (within \(timeout))")
        }
    }

    public func close() {
        if case .link(let link, _) = channel { link.close() }
    }
}
