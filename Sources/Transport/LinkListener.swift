import NIOCore
import NIOPosix
import WireCodec

/// Accepts links on a TCP port. A peer that fails the handshake is dropped (and reported to
/// `onFailure`) without affecting anyone else.
public final class LinkListener: Sendable {
    /// The port actually bound (useful when binding port 0).
    public let port: Int
    /// Authenticated links, as they are established.
    public let links: AsyncStream<Link>
    private let serverChannel: any Channel

    private init(port: Int, links: AsyncStream<Link>, serverChannel: any Channel) {
        self.port = port
        self.links = links
        self.serverChannel = serverChannel
    }

    /// Binds `host:port` and starts accepting.
    /// - Parameters:
    ///   - vet: decides whether a peer that passed the handshake is accepted (e.g. whether its
    ///     id is bound to the key it proved).
    ///   - onFailure: called with the error of every failed handshake.
    public static func bind(
        host: String, port: Int, configuration: LinkConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        vet: @escaping @Sendable (PeerInfo) -> Bool = { _ in true },
        onFailure: @escaping @Sendable (any Error) -> Void = { _ in }
    ) async throws -> LinkListener {
        let maximumFrameSize = configuration.maximumFrameSize
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try LinkEstablishment.configure(channel, maximumFrameSize: maximumFrameSize)
                }
            }
        let (links, continuation) = AsyncStream<Link>.makeStream()
        let listener = LinkListener(port: server.channel.localAddress?.port ?? port, links: links, serverChannel: server.channel)
        Task {
            try? await server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await child in inbound {
                        group.addTask {
                            do {
                                let link = try await LinkEstablishment.run(child, role: .listener, configuration: configuration, vet: vet)
                                continuation.yield(link)
                            } catch {
                                onFailure(error)
                            }
                        }
                    }
                }
            }
            continuation.finish()
        }
        return listener
    }

    /// Stops accepting (established links stay open).
    public func close() {
        serverChannel.close(promise: nil)
    }

    /// Stops accepting and returns once the port is released.
    public func shutdown() async {
        try? await serverChannel.close()
    }
}
