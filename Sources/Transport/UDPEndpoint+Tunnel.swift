import NIOCore
import Synchronization

extension UDPEndpoint {
    /// A link to the peer at `address` (`host:port`) over KCP conversation `conversation` on this
    /// socket, usually to the address ``punch(token:candidates:timeout:)`` returned.
    ///
    /// Both peers call it, one as ``TunnelRole/dialer`` and one as ``TunnelRole/listener`` (they
    /// agree beforehand), with the same conversation. The usual link handshake then runs over the
    /// tunnel, so the link is authenticated (cluster secret and identity key) and encrypted
    /// exactly like a TCP link of role `linkRole` (``LinkRole/client`` between clients, where
    /// both prove the cluster secret; ``LinkRole/server`` between servers, where both prove the
    /// server secret). Several tunnels (other peers or conversations) share the socket.
    /// The link's inbound frames fail with ``TransportError/connectionLost(_:)`` once nothing came
    /// from the peer for `configuration.deadAfter`, and finish when the peer closes its link.
    /// - Parameters:
    ///   - timeout: time allowed for the handshake (the peer may start a little later).
    ///   - vet: decides whether a peer that passed the handshake is accepted, as in ``LinkListener``.
    /// - Throws: a ``TransportError`` (`authenticationFailed`, `handshakeTimedOut`, `peerRefused`,
    ///   `unreachable`, `closed`, or `protocolViolation` if this conversation with this address is
    ///   already open).
    public func tunnel(
        to address: String, conversation: UInt32, role: TunnelRole, linkRole: LinkRole = .client, timeout: Duration,
        vet: @escaping @Sendable (PeerInfo) -> Bool = { _ in true }
    ) async throws -> Link {
        let remote = try SocketAddress.resolving(address)
        guard await canSend(to: remote) else { throw TransportError.unreachable("\(address) (no route from this socket)") }
        let key = UDPTunnel.Key(conversation: conversation, address: remote)
        let tunnel = try UDPTunnel(key: key, channel: channel, configuration: configuration) { [weak self] tunnel in
            self?.forget(tunnel)
        }
        let now = NIODeadline.now()
        let early = try state.withLock { state in
            guard !state.isClosed else { throw TransportError.closed }
            guard state.tunnels[key] == nil else {
                throw TransportError.protocolViolation("conversation \(conversation) with \(address) is already open")
            }
            state.tunnels[key] = tunnel
            return state.takeEarlySegments(for: key, now: now)
        }
        tunnel.start(replaying: early)
        var linkConfiguration = configuration
        linkConfiguration.handshakeTimeout = timeout
        // Both peers are of the same kind and prove the secret of that kind.
        return try await LinkEstablishment.run(
            tunnel, stance: role == .dialer ? .dialer(declaring: linkRole) : .listener(stating: linkRole, accepting: [linkRole]),
            configuration: linkConfiguration, vet: vet
        )
    }

    /// Drops an ended tunnel from the table.
    private func forget(_ tunnel: UDPTunnel) {
        state.withLock { state in
            if state.tunnels[tunnel.key] === tunnel { state.tunnels[tunnel.key] = nil }
        }
    }
}
