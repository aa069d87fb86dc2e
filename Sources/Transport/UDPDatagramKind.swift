/// The leading byte of every datagram a ``UDPEndpoint`` sends. Datagrams with any other leading
/// byte are dropped.
enum UDPDatagramKind: UInt8 {
    /// "What address do you see me at?": ``UDPObserveRequest``.
    case observeRequest = 0xD1
    /// The answer: ``UDPObserveReply``.
    case observeReply = 0xD2
    /// Hole punching: ``UDPProbe``.
    case probe = 0xD3
    /// The answer to a probe: ``UDPProbe``.
    case probeAck = 0xD4
    /// A KCP datagram of a tunnel; the KCP header that follows starts with the conversation id.
    case tunnelSegment = 0xD5
    /// Keeps an idle tunnel (and the NAT mappings on its path) alive: the conversation id only.
    case keepalive = 0xD6
    /// The tunnel was closed by its owner: the conversation id only.
    case goodbye = 0xD7
}
