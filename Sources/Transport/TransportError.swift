import P2PCore

/// Why a link could not be established or broke.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The peer does not know the secret of the link's role, declared a role that is not accepted,
    /// or failed to prove its identity key.
    case authenticationFailed(String)
    /// The peer was refused by the vetting callback (e.g. its id is bound to another key).
    case peerRefused(NodeID)
    /// The handshake did not finish in time.
    case handshakeTimedOut
    /// The peer sent something the protocol does not allow.
    case protocolViolation(String)
    /// A sealed frame failed to open: tampered, replayed or reordered.
    case decryptionFailed
    /// The link is closed.
    case closed
    /// The address could not be reached.
    case unreachable(String)
    /// The connection broke (reset, I/O error) during the handshake or later.
    case connectionLost(String)
    /// A limit was reached: a link's send queue is full (the peer does not read fast enough), or a
    /// listener holds as many handshakes or links (in all, or from one address) as it allows.
    case overloaded(String)

    public var description: String {
        switch self {
        case .authenticationFailed(let why): "authentication failed: \(why)"
        case .peerRefused(let id): "peer \(id) refused"
        case .handshakeTimedOut: "handshake timed out"
        case .protocolViolation(let why): "protocol violation: \(why)"
        case .decryptionFailed: "a frame failed authentication (tampered, replayed or reordered)"
        case .closed: "link closed"
        case .unreachable(let address): "cannot reach \(address)"
        case .connectionLost(let why): "connection lost: \(why)"
        case .overloaded(let why): "overloaded: \(why)"
        }
    }
}
