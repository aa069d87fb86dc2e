import NIOCore
import NIOPosix
import P2PCore
import Synchronization

/// One bound UDP socket for client-to-client paths: NAT observation (``observe(server:timeout:)``
/// and ``observations``), hole punching (``punch(token:candidates:timeout:)``) and links over
/// reliable KCP tunnels (``tunnel(to:conversation:role:timeout:vet:)``), all sharing the socket so
/// they share its NAT mapping.
///
/// Every datagram starts with a kind byte; datagrams that are unknown, malformed, unauthenticated
/// or unexpected are dropped silently.
public final class UDPEndpoint: Sendable {
    /// Which side of a tunnel's handshake this end plays.
    public typealias TunnelRole = Transport.TunnelRole

    /// The port actually bound (useful when binding port 0).
    public let localPort: Int
    /// Server side: every authenticated observe request that arrived, with the source address it
    /// came from. Finishes when the endpoint closes; the newest 1024 are kept if nobody reads.
    public let observations: AsyncStream<UDPObservation>
    /// Server side: observe requests from cluster members that were not answered (no timestamp,
    /// stamped outside the replay window), at most one report per reason every
    /// ``UDPObserveRejection/interval``, for the log. The newest 16 are kept if nobody reads.
    public let observeRejections: AsyncStream<UDPObserveRejection>

    let configuration: LinkConfiguration
    let channel: any Channel
    let authenticator: UDPDatagramAuthenticator
    let state = Mutex(UDPEndpointState())
    let observationSink: AsyncStream<UDPObservation>.Continuation
    let rejectionSink: AsyncStream<UDPObserveRejection>.Continuation

    private init(channel: any Channel, configuration: LinkConfiguration) {
        self.channel = channel
        self.configuration = configuration
        localPort = channel.localAddress?.port ?? 0
        authenticator = UDPDatagramAuthenticator(secret: configuration.secret)
        (observations, observationSink) = AsyncStream<UDPObservation>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        (observeRejections, rejectionSink) = AsyncStream<UDPObserveRejection>.makeStream(bufferingPolicy: .bufferingNewest(16))
    }

    /// Binds a UDP socket on `host:port` (port 0: any free port).
    public static func bind(
        host: String, port: Int, configuration: LinkConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> UDPEndpoint {
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            .channelOption(.maxMessagesPerRead, value: 16)
            .bind(host: host, port: port)
            .get()
        let endpoint = UDPEndpoint(channel: channel, configuration: configuration)
        do {
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(UDPDatagramHandler(endpoint: endpoint))
            }.get()
        } catch {
            endpoint.close()
            throw error
        }
        return endpoint
    }

    /// Closes the socket and every tunnel on it (their links end with ``TransportError/closed``;
    /// peers notice within their `deadAfter`); pending observes and punches throw
    /// ``TransportError/closed``.
    public func close() {
        let (tunnels, observeReplies, punchAcknowledgements) = state.withLock { state in
            guard !state.isClosed else {
                return ([UDPTunnel](), [AsyncStream<String>.Continuation](), [AsyncStream<String>.Continuation]())
            }
            state.isClosed = true
            defer {
                state.tunnels.removeAll()
                state.observeWaiters.removeAll()
                state.punches.removeAll()
                state.lingeringTokens.removeAll()
                state.earlySegments.removeAll()
            }
            return (Array(state.tunnels.values), state.observeWaiters.values.map(\.replies), state.punches.values.map(\.acknowledgements))
        }
        for tunnel in tunnels { tunnel.endpointClosed() }
        for replies in observeReplies { replies.finish() }
        for acknowledgements in punchAcknowledgements { acknowledgements.finish() }
        observationSink.finish()
        rejectionSink.finish()
        channel.close(promise: nil)
    }

    // MARK: Receiving

    /// Demultiplexes one datagram by its kind byte (on the channel's event loop).
    func receive(_ datagram: [UInt8], from source: SocketAddress) {
        guard let first = datagram.first, let kind = UDPDatagramKind(rawValue: first) else { return }
        switch kind {
        case .observeRequest: answerObserveRequest(datagram, from: source)
        case .observeReply: acceptObserveReply(datagram)
        case .probe, .probeAck: handleProbe(datagram, from: source)
        case .tunnelSegment:
            guard let tunnelDatagram = UDPTunnelDatagram(decoding: datagram) else { return }
            let key = UDPTunnel.Key(conversation: tunnelDatagram.conversation, address: source)
            let now = NIODeadline.now()
            state.withLock { $0.tunnel(for: key, keepingEarly: tunnelDatagram, now: now) }?.receive(tunnelDatagram)
        case .keepalive, .goodbye:
            guard let tunnelDatagram = UDPTunnelDatagram(decoding: datagram) else { return }
            let key = UDPTunnel.Key(conversation: tunnelDatagram.conversation, address: source)
            state.withLock { $0.tunnels[key] }?.receive(tunnelDatagram)
        }
    }

    // MARK: Sending

    /// Sends one datagram (errors are the sender's retry logic's concern, not the caller's).
    func send(_ datagram: [UInt8], to address: SocketAddress) {
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: datagram)), promise: nil)
    }

    /// Whether this socket can send to `address` at all. A datagram the kernel refuses outright
    /// (no route, or from a loopback address to another host) fails the whole NIO channel, so
    /// addresses from elsewhere are checked first, by connecting a throwaway socket bound to the
    /// same local address.
    func canSend(to address: SocketAddress) async -> Bool {
        guard let local = channel.localAddress, local.protocol == address.protocol, address.port != 0 else { return false }
        do {
            let source = try SocketAddress(ipAddress: local.ipAddress ?? "", port: 0)
            let checker = try await DatagramBootstrap(group: channel.eventLoop).bind(to: source).get()
            defer { checker.close(promise: nil) }
            try await checker.connect(to: address).get()
            return true
        } catch {
            return false
        }
    }

    /// Runs `attempt` now and every `interval` until a value arrives on `results` (returned) or
    /// `timeout` passes (nil). Throws ``TransportError/closed`` if `results` finishes first (the
    /// endpoint closed).
    static func firstResult(
        of results: AsyncStream<String>, timeout: Duration, every interval: Duration,
        attempt: @escaping @Sendable () throws -> Void
    ) async throws -> String? {
        try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                for await result in results { return result }
                try Task.checkCancellation()
                throw TransportError.closed
            }
            group.addTask {
                let clock = ContinuousClock()
                let deadline = clock.now.advanced(by: timeout)
                while clock.now < deadline {
                    try attempt()
                    try await Task.sleep(until: min(clock.now.advanced(by: interval), deadline), clock: clock)
                }
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }
}
