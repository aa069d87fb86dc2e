/// What the node at one end of a link is, as the handshake proves it.
///
/// The dialer declares the link's role in its hello, and both sides authenticate the handshake
/// with the secret of that role (``LinkConfiguration/secret`` for ``client``,
/// ``LinkConfiguration/serverSecret`` for ``server``, ``LinkConfiguration/adminSecret`` for
/// ``admin``). The listener's hello states what the listener is.
public enum LinkRole: UInt8, Sendable, Hashable, CustomStringConvertible {
    /// A client: proves the cluster secret.
    case client = 1
    /// A server: proves the server secret.
    case server = 2
    /// An operator: proves the admin secret.
    case admin = 3

    public var description: String {
        switch self {
        case .client: "client"
        case .server: "server"
        case .admin: "admin"
        }
    }

    /// The name of the secret that proves this role, for error messages.
    var secretName: String {
        switch self {
        case .client: "cluster secret"
        case .server: "server secret"
        case .admin: "admin secret"
        }
    }
}
