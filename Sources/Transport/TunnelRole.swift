/// Which side of a UDP tunnel's link handshake this end plays; the two peers agree beforehand
/// (one ``dialer``, one ``listener``).
public enum TunnelRole: Sendable, Equatable {
    /// Plays the dialer's part of the handshake.
    case dialer
    /// Plays the listener's part of the handshake.
    case listener
}
