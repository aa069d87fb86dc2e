import NIOCore
import P2PCore

/// What a ``UDPEndpoint`` tracks, behind its lock.
struct UDPEndpointState: Sendable {
    var isClosed = false
    /// Open tunnels by conversation and peer address.
    var tunnels: [UDPTunnel.Key: UDPTunnel] = [:]
    /// Observe requests awaiting a reply, by nonce: the request's id and where the reply goes.
    var observeWaiters: [[UInt8]: (request: UInt64, replies: AsyncStream<String>.Continuation)] = [:]
    var nextObserveRequest: UInt64 = 0
    /// Punches in progress, by the random tag of their probes.
    var punches: [UInt64: UDPPunchAttempt] = [:]
    /// Tokens whose punch returned but whose probes are still answered until the deadline (the
    /// peer may still be probing, waiting for our acknowledgement).
    var lingeringTokens: [[UInt8]: NIODeadline] = [:]
    /// Nonces of observe requests answered within the replay window; a replayed request, or one
    /// stamped outside the window, is dropped.
    var observeReplays = ObserveReplayGuard()
    /// Observe requests refused since the last report, by reason, and when that reason was last
    /// reported (see ``UDPObserveRejection``).
    var unreportedRejections: [UDPObserveRejection.Reason: Int] = [:]
    var lastRejectionReport: [UDPObserveRejection.Reason: NIODeadline] = [:]
    /// The key and source address of each client's last observe request whose signature was
    /// verified (see ``UDPEndpoint/answerObserveRequest(_:from:)``), at most
    /// ``verifiedObserverLimit`` clients.
    var verifiedObservers: [NodeID: VerifiedObserver] = [:]

    /// What a verified observe request proved: this key asked from this address.
    struct VerifiedObserver: Equatable, Sendable {
        let publicKey: [UInt8]
        let address: String
    }

    /// Clients remembered as verified; beyond, the memory starts over (they are verified again).
    static let verifiedObserverLimit = 65_536

    mutating func rememberVerified(_ observer: VerifiedObserver, of client: NodeID) {
        if verifiedObservers[client] == nil, verifiedObservers.count >= Self.verifiedObserverLimit { verifiedObservers.removeAll() }
        verifiedObservers[client] = observer
    }
    /// Counts a refused observe request; whether to report it now (with the count since the
    /// last report), at most once per ``UDPObserveRejection/interval`` per reason.
    mutating func refusedObserve(_ reason: UDPObserveRejection.Reason, now: NIODeadline) -> Int? {
        unreportedRejections[reason, default: 0] += 1
        if let last = lastRejectionReport[reason], now - last < .seconds(UDPObserveRejection.interval.components.seconds) { return nil }
        lastRejectionReport[reason] = now
        return unreportedRejections.removeValue(forKey: reason)
    }

    /// Tunnel datagrams that arrived before their tunnel opened here (the peer started first),
    /// replayed when it opens, so the handshake need not wait for a retransmission.
    var earlySegments: [(key: UDPTunnel.Key, datagram: UDPTunnelDatagram, arrived: NIODeadline)] = []

    /// Most early segments kept; the oldest are dropped first.
    static let earlySegmentLimit = 64
    /// How long an early segment is kept.
    static let earlySegmentLifetime = TimeAmount.seconds(2)

    /// The tunnel for `key`, or nil after keeping `segment` in case it opens soon.
    mutating func tunnel(for key: UDPTunnel.Key, keepingEarly datagram: UDPTunnelDatagram, now: NIODeadline) -> UDPTunnel? {
        if let tunnel = tunnels[key] { return tunnel }
        guard !isClosed else { return nil }
        if earlySegments.count >= Self.earlySegmentLimit { earlySegments.removeFirst() }
        earlySegments.append((key, datagram, now))
        return nil
    }

    /// Takes the early segments kept for `key`, in arrival order, and forgets expired ones.
    mutating func takeEarlySegments(for key: UDPTunnel.Key, now: NIODeadline) -> [UDPTunnelDatagram] {
        let taken = earlySegments.filter { $0.key == key && now - $0.arrived < Self.earlySegmentLifetime }.map(\.datagram)
        earlySegments.removeAll { $0.key == key || now - $0.arrived >= Self.earlySegmentLifetime }
        return taken
    }

    /// Whether a probe carrying `token` (and not sent by us) is answered; remembers `source` as
    /// a candidate of the punches with that token.
    mutating func acceptProbe(token: [UInt8], tag: UInt64, from source: SocketAddress, now: NIODeadline) -> Bool {
        guard punches[tag] == nil else { return false }  // our own probe, looped back to us
        var known = false
        for (punchTag, var attempt) in punches where attempt.token == token {
            known = true
            if !attempt.candidates.contains(source), attempt.candidates.count < UDPPunchAttempt.maximumCandidates {
                attempt.candidates.append(source)
                punches[punchTag] = attempt
            }
        }
        if !known, let until = lingeringTokens[token], now < until { known = true }
        return known
    }

    /// Forgets lingering tokens whose deadline passed.
    mutating func pruneLingeringTokens(now: NIODeadline) {
        lingeringTokens = lingeringTokens.filter { now < $0.value }
    }
}
