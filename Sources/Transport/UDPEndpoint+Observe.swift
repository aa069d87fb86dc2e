import NIOCore
import P2PCore
import Synchronization

extension UDPEndpoint {
    /// Client side, STUN-like: asks the server's UDP endpoint at `server` (`host:port`) which source
    /// address it sees, and returns it as `ip:port`.
    ///
    /// The request proves the cluster secret and is signed by this node's identity key; the
    /// server answers only such requests. Sent again a few times within `timeout` (each with a
    /// fresh nonce; replies to other nonces are ignored).
    /// - Throws: ``TransportError/unreachable(_:)`` if no reply came in time,
    ///   ``TransportError/closed`` if the endpoint closed.
    public func observe(server: String, timeout: Duration) async throws -> String {
        let target = try SocketAddress.resolving(server)
        guard await canSend(to: target) else { throw TransportError.unreachable("\(server) (no route from this socket)") }
        let (replies, replySink) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let request = try state.withLock { state in
            guard !state.isClosed else { throw TransportError.closed }
            state.nextObserveRequest += 1
            return state.nextObserveRequest
        }
        defer {
            state.withLock { state in state.observeWaiters = state.observeWaiters.filter { $0.value.request != request } }
            replySink.finish()
        }
        let identity = configuration.identity
        let authenticator = authenticator
        let address = try await Self.firstResult(of: replies, timeout: timeout, every: timeout / 4) { [self] in
            let nonce = Self.randomBytes(UDPObserveRequest.nonceSize)
            let registered = state.withLock { state in
                guard !state.isClosed else { return false }
                state.observeWaiters[nonce] = (request, replySink)
                return true
            }
            guard registered else {
                replySink.finish()
                return
            }
            send(try UDPObserveRequest(identity: identity, nonce: nonce).encoded(signedBy: identity, authenticator: authenticator), to: target)
        }
        guard let address else { throw TransportError.unreachable("\(server) (no observe reply within \(timeout))") }
        return address
    }

    /// Server side: reports and answers an authenticated, fresh observe request.
    ///
    /// The Ed25519 signature check is the costly part (clients ask every 5 s, so a server with
    /// 10,000 clients would verify 2,000 a second on its event loop): it is skipped when the
    /// same client asked with the same key from the same address before and that request was
    /// verified. Such a request can only report again exactly what was verified (the mapping
    /// of that client to that address); anything else — another key, another address, a new
    /// client — is verified as before. Nonces are checked for freshness either way.
    func answerObserveRequest(_ datagram: [UInt8], from source: SocketAddress) {
        guard let request = UDPObserveRequest.decodeUnsigned(datagram, authenticator: authenticator),
              let address = source.hostPortText
        else { return }
        let observer = UDPEndpointState.VerifiedObserver(publicKey: request.publicKey, address: address)
        let known = state.withLock { $0.verifiedObservers[request.client] == observer }
        guard known || UDPObserveRequest.isSigned(datagram) else { return }
        let fresh = state.withLock { state in
            guard !state.isClosed, state.answeredObserveNonces.insert(request.nonce) else { return false }
            if !known { state.rememberVerified(observer, of: request.client) }
            return true
        }
        guard fresh else { return }
        observationSink.yield(UDPObservation(client: request.client, publicKey: request.publicKey, address: address))
        send(UDPObserveReply(nonce: request.nonce, address: address).encoded(authenticator: authenticator), to: source)
    }

    /// Client side: hands an authenticated reply to the observe waiting for its nonce.
    func acceptObserveReply(_ datagram: [UInt8]) {
        guard let reply = UDPObserveReply.decode(datagram, authenticator: authenticator) else { return }
        let waiter = state.withLock { $0.observeWaiters[reply.nonce] }
        waiter?.replies.yield(reply.address)
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }
}
