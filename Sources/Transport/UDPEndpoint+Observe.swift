import Foundation
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
            let request = UDPObserveRequest(identity: identity, nonce: nonce, timestamp: Self.wallClockMilliseconds())
            send(try request.encoded(signedBy: identity, authenticator: authenticator), to: target)
        }
        guard let address else { throw TransportError.unreachable("\(server) (no observe reply within \(timeout))") }
        return address
    }

    /// Server side: reports and answers an authenticated, fresh observe request.
    ///
    /// Fresh: stamped within ``ObserveReplayGuard/window`` of this server's clock, and its nonce
    /// not answered before (``ObserveReplayGuard``), so a captured request cannot be replayed
    /// later, from anywhere, to move the client's recorded mapping or to make this server send
    /// its reply elsewhere. The window is checked before the signature (it costs nothing); the
    /// nonce is remembered only once the signature is known good, so forged requests cannot
    /// crowd the replay memory. Requests without a timestamp (older clients) are refused and
    /// reported (``observeRejections``).
    ///
    /// The Ed25519 signature check is the costly part (clients ask every 5 to 30 s, so a server
    /// with 10,000 clients would verify hundreds to 2,000 a second on its event loop): it is
    /// skipped when the same client asked with the same key from the same address before and
    /// that request was verified. Such a request can only report again exactly what was verified
    /// (the mapping of that client to that address), and its reply goes to that same address;
    /// anything else — another key, another address, a new client — is verified as before.
    func answerObserveRequest(_ datagram: [UInt8], from source: SocketAddress) {
        guard let request = UDPObserveRequest.decodeUnsigned(datagram, authenticator: authenticator),
              let address = source.hostPortText
        else {
            if let client = UDPObserveRequest.legacyClient(datagram, authenticator: authenticator) {
                refused(.legacyRequest, client: client, address: source.hostPortText ?? "?", skew: 0)
            }
            return
        }
        let now = Self.wallClockMilliseconds()
        let (skew, _) = request.timestamp.subtractingReportingOverflow(now)
        guard ObserveReplayGuard.isInWindow(request.timestamp, now: now) else {
            return refused(.outsideWindow, client: request.client, address: address, skew: skew)
        }
        let observer = UDPEndpointState.VerifiedObserver(publicKey: request.publicKey, address: address)
        let known = state.withLock { $0.verifiedObservers[request.client] == observer }
        guard known || UDPObserveRequest.isSigned(datagram) else { return }
        let verdict = state.withLock { state -> ObserveReplayGuard.Verdict in
            guard !state.isClosed else { return .replayed }
            let verdict = state.observeReplays.admit(nonce: request.nonce, timestamp: request.timestamp, now: now)
            if verdict == .fresh, !known { state.rememberVerified(observer, of: request.client) }
            return verdict
        }
        switch verdict {
        case .fresh: break
        case .replayed: return
        case .outsideWindow: return refused(.outsideWindow, client: request.client, address: address, skew: skew)
        case .crowdedOut: return refused(.crowdedOut, client: request.client, address: address, skew: skew)
        }
        observationSink.yield(UDPObservation(client: request.client, publicKey: request.publicKey, address: address))
        send(UDPObserveReply(nonce: request.nonce, address: address).encoded(authenticator: authenticator), to: source)
    }

    /// Counts a refused observe request and reports it if its reason is due (``UDPObserveRejection``).
    private func refused(_ reason: UDPObserveRejection.Reason, client: NodeID, address: String, skew: Int64) {
        let count = state.withLock { $0.refusedObserve(reason, now: .now()) }
        guard let count else { return }
        rejectionSink.yield(UDPObserveRejection(reason: reason, client: client, address: address, skewMilliseconds: skew, count: count))
    }

    /// This machine's wall clock in milliseconds since 1970 (observe requests carry it: clients'
    /// and servers' clocks must agree within ``ObserveReplayGuard/window``).
    static func wallClockMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
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
