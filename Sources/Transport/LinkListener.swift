import NIOCore
import NIOPosix
import WireCodec

/// Accepts links on a TCP port. A peer that fails the handshake is dropped (and reported to
/// `onFailure`) without affecting anyone else.
///
/// The listener states ``LinkConfiguration/role`` in its hello and accepts dialers of the
/// ``LinkConfiguration/acceptedRoles`` whose secret it holds. It caps handshakes in progress and
/// established links, in all and per remote IP address (``LinkConfiguration/maximumPendingHandshakes``
/// and the others). At the cap on handshakes in all it stops accepting until one ends, and later
/// connections wait in the listen queue (``LinkConfiguration/listenBacklog``); a connection over
/// any other cap is closed at once and reported to `onFailure` as ``TransportError/overloaded(_:)``.
/// A link stops counting once it closes.
public final class LinkListener: Sendable {
    /// The port actually bound (useful when binding port 0).
    public let port: Int
    /// Authenticated links, as they are established.
    public let links: AsyncStream<Link>
    private let serverChannel: any Channel
    let admissions: ListenerAdmissions

    private init(port: Int, links: AsyncStream<Link>, serverChannel: any Channel, admissions: ListenerAdmissions) {
        self.port = port
        self.links = links
        self.serverChannel = serverChannel
        self.admissions = admissions
    }

    /// Binds `host:port` and starts accepting.
    /// - Parameters:
    ///   - vet: decides whether a peer that passed the handshake is accepted (e.g. whether its
    ///     id is bound to the key it proved, or whether its ``PeerInfo/role`` may do what it asks).
    ///   - onFailure: called with the error of every failed handshake or refused connection.
    public static func bind(
        host: String, port: Int, configuration: LinkConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        vet: @escaping @Sendable (PeerInfo) -> Bool = { _ in true },
        onFailure: @escaping @Sendable (any Error) -> Void = { _ in }
    ) async throws -> LinkListener {
        let handshakeLimit = configuration.handshakeFrameLimit
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: Int32(clamping: configuration.listenBacklog))
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let limit = FrameSizeLimit(handshakeLimit)
                    try LinkEstablishment.addFraming(channel, limit: limit)
                    return (try AcceptedChannel(pausing: channel), limit)
                }
            }
        let (links, continuation) = AsyncStream<Link>.makeStream()
        let admissions = ListenerAdmissions(configuration: configuration)
        let listener = LinkListener(
            port: server.channel.localAddress?.port ?? port, links: links, serverChannel: server.channel, admissions: admissions
        )
        let stance = LinkEstablishment.Stance.listener(stating: configuration.role, accepting: configuration.acceptedRoles)
        Task {
            // Each handshake's task: a TaskSet, not a task group (see TaskSet).
            let connections = TaskSet()
            try? await server.executeThenClose { inbound in
                for try await (child, limit) in inbound {
                    let host = child.channel.remoteAddress?.ipAddress ?? "unknown"
                    do {
                        try await admissions.waitForHandshakeSlot(from: host)
                    } catch {
                        child.channel.close(promise: nil)
                        onFailure(error)
                        continue
                    }
                    connections.add {
                        await withTaskCancellationHandler {
                            let connection: NIOAsyncChannel<Frame, Frame>
                            do {
                                connection = try await child.wrap(as: NIOAsyncChannel<Frame, Frame>.self)
                            } catch {
                                // Closed before it was wrapped: its handshake slot is free again.
                                admissions.end(from: host, established: false)
                                onFailure(error)
                                return
                            }
                            do {
                                let link = try await LinkEstablishment.run(
                                    ChannelFramePipe(connection, frameSizeLimit: limit), stance: stance, configuration: configuration, vet: vet,
                                    admit: { _ in try admissions.establish(from: host) },
                                    onEnd: { established in admissions.end(from: host, established: established) }
                                )
                                continuation.yield(link)
                            } catch {
                                onFailure(error)
                            }
                        } onCancel: {
                            // The listener closed: a handshake still in progress ends now, not at
                            // its timeout. (The task ends once its link is established.)
                            child.channel.close(promise: nil)
                        }
                    }
                }
            }
            connections.cancelAll()
            await connections.waitForAll()
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
