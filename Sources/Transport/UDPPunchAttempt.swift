import NIOCore

/// A ``UDPEndpoint/punch(token:candidates:timeout:)`` in progress.
struct UDPPunchAttempt: Sendable {
    /// Most addresses probed: the candidates given plus those the peer's probes came from.
    static let maximumCandidates = 32

    let token: [UInt8]
    /// Where probes go: the candidates, then the sources of the peer's probes (peer-reflexive
    /// addresses, as in ICE), so a mapping the servers did not predict is found too.
    var candidates: [SocketAddress]
    /// Receives the source of every acknowledgement of our probes.
    let acknowledgements: AsyncStream<String>.Continuation
}
