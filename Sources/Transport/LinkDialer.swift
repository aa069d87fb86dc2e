import NIOCore
import NIOPosix
import WireCodec

/// Opens links to other nodes.
public enum LinkDialer {
    /// Connects to `host:port` and runs the handshake as `role`, proving that role's secret
    /// (``LinkConfiguration/secret(for:)``); the link's ``Link/peer`` carries the role the
    /// listener states.
    ///
    /// With `localHost`, the connection leaves from that local address (e.g. one of many
    /// loopback addresses, so that simulated clients look like distinct hosts to a listener).
    ///
    /// Throws a ``TransportError`` (`unreachable`, `authenticationFailed` — also when this node
    /// holds no secret for `role` or the listener refuses the role —, `handshakeTimedOut`, …) on
    /// failure.
    public static func connect(
        host: String, port: Int, role: LinkRole = .client, configuration: LinkConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, localHost: String? = nil
    ) async throws -> Link {
        guard configuration.secret(for: role) != nil else {
            throw TransportError.authenticationFailed("this node cannot dial as \(role): it holds no \(role.secretName)")
        }
        let limit = FrameSizeLimit(configuration.handshakeFrameLimit)
        let channel: NIOAsyncChannel<Frame, Frame>
        do {
            var bootstrap = ClientBootstrap(group: group)
            if let localHost { bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localHost, port: 0)) }
            channel = try await bootstrap
                // NIO's conversion clamps, and keeps a timeout's fraction of a second.
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try LinkEstablishment.configure(channel, limit: limit)
                    }
                }
        } catch {
            throw TransportError.unreachable("\(host):\(port) (\(error))")
        }
        return try await LinkEstablishment.run(
            ChannelFramePipe(channel, frameSizeLimit: limit), stance: .dialer(declaring: role), configuration: configuration, vet: { _ in true }
        )
    }
}
