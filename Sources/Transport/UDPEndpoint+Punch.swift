import NIOCore
import Synchronization

extension UDPEndpoint {
    /// Hole punching: sends probes carrying `token` (the random bytes the servers gave both
    /// peers, 1…64 of them) to every candidate `host:port` every 50 ms until `timeout`, and
    /// answers the peer's probes with the same token by an acknowledgement to their source.
    ///
    /// Returns the first address (`ip:port`) that acknowledged one of our probes: a path that
    /// works both ways. The peer's probes also add their source to the candidates (as in ICE), so
    /// a mapping the servers did not predict is found too. Probes with this token are still
    /// answered for a while after returning, for a peer that has not heard our answer yet.
    /// Candidates this socket cannot send to at all are skipped.
    /// - Throws: ``TransportError/unreachable(_:)`` if nothing answered in time,
    ///   ``TransportError/closed`` if the endpoint closed.
    public func punch(token: [UInt8], candidates: [String], timeout: Duration) async throws -> String {
        guard UDPProbe.tokenLengths.contains(token.count) else {
            throw TransportError.protocolViolation("a punch token of \(token.count) bytes (\(UDPProbe.tokenLengths) allowed)")
        }
        var addresses: [SocketAddress] = []
        for candidate in candidates.prefix(UDPPunchAttempt.maximumCandidates) {
            guard let address = try? SocketAddress.resolving(candidate), !addresses.contains(address),
                  await canSend(to: address)
            else { continue }
            addresses.append(address)
        }
        let (acknowledgements, acknowledgementSink) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let tag = UInt64.random(in: .min ... .max)
        try state.withLock { state in
            guard !state.isClosed else { throw TransportError.closed }
            state.pruneLingeringTokens(now: .now())
            state.punches[tag] = UDPPunchAttempt(token: token, candidates: addresses, acknowledgements: acknowledgementSink)
        }
        defer {
            let lingerUntil = NIODeadline.now() + TimeAmount(max(timeout, Self.minimumLinger))
            state.withLock { state in
                state.punches[tag] = nil
                if !state.isClosed { state.lingeringTokens[token] = max(state.lingeringTokens[token] ?? lingerUntil, lingerUntil) }
            }
            acknowledgementSink.finish()
        }
        let probe = UDPProbe(isAcknowledgement: false, token: token, tag: tag).encoded
        let address = try await Self.firstResult(of: acknowledgements, timeout: timeout, every: Self.probeInterval) { [self] in
            let targets = state.withLock { $0.punches[tag]?.candidates ?? [] }
            for target in targets { send(probe, to: target) }
        }
        guard let address else {
            throw TransportError.unreachable("no probe answered from \(candidates.joined(separator: ", ")) within \(timeout)")
        }
        return address
    }

    /// Time between two rounds of probes.
    static let probeInterval = Duration.milliseconds(50)
    /// Least time a token's probes are still answered after its punch returned.
    static let minimumLinger = Duration.seconds(5)

    /// Answers a peer's probe, or hands an acknowledgement of ours to its punch.
    func handleProbe(_ datagram: [UInt8], from source: SocketAddress) {
        guard let probe = UDPProbe.decode(datagram), let sourceText = source.hostPortText else { return }
        if probe.isAcknowledgement {
            let sink = state.withLock { state in
                state.punches[probe.tag].flatMap { $0.token == probe.token ? $0.acknowledgements : nil }
            }
            sink?.yield(sourceText)
        } else {
            let now = NIODeadline.now()
            let answer = state.withLock { $0.acceptProbe(token: probe.token, tag: probe.tag, from: source, now: now) }
            if answer { send(probe.acknowledgement.encoded, to: source) }
        }
    }
}
