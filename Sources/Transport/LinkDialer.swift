import NIOCore
import NIOPosix
import WireCodec

/// Opens links to other nodes.
public enum LinkDialer {
    /// Connects to `host:port` and runs the handshake; throws a ``TransportError``
    /// (`unreachable`, `authenticationFailed`, `handshakeTimedOut`, …) on failure.
    public static func connect(
        host: String, port: Int, configuration: LinkConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> Link {
        let maximumFrameSize = configuration.maximumFrameSize
        let channel: NIOAsyncChannel<Frame, Frame>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.milliseconds(Int64(configuration.connectTimeout.components.seconds * 1000)))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try LinkEstablishment.configure(channel, maximumFrameSize: maximumFrameSize)
                    }
                }
        } catch {
            throw TransportError.unreachable("\(host):\(port) (\(error))")
        }
        return try await LinkEstablishment.run(channel, role: .dialer, configuration: configuration, vet: { _ in true })
    }
}
