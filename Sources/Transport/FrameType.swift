/// Every application frame type of every kind of link, in one registry: a raw-value enum, so no
/// two frame types can share a number (the compiler refuses duplicate raw values), and each says
/// which kind of link it belongs on. Numbers start at ``Link/firstApplicationType``; lower ones
/// belong to the link layer itself.
public enum FrameType: UInt8, CaseIterable, Sendable {
    // Server ↔ server links.
    /// A `PeerMessage` (hello, Raft, request, reply, introduction, relay): every frame between servers.
    case serverPeer = 17

    // Client ↔ server links.
    /// A `ClientRequest` (client → server); the first is the client's hello.
    case clientRequest = 24
    /// A `ServerPush` (server → client).
    case serverPush = 25
    /// A `LinkFeatures` announcement (either way): what the sender takes beyond the base
    /// protocol. Older peers skip it.
    case clientFeatures = 26

    // Operator ↔ server links (and the local admin socket).
    /// An `AdminRequest`; also the first frame that tells an admin link apart.
    case adminRequest = 28
    /// An `AdminResponse`.
    case adminResponse = 29

    // Client ↔ client direct links (LAN TCP or punched UDP tunnels).
    /// An application message sent directly.
    case directMessage = 40
    /// The recipient's acknowledgement of a direct message.
    case directAcknowledge = 41
    /// A keepalive on an idle direct link.
    case directPing = 42

    /// The kinds of link frames travel on.
    public enum LinkKind: Sendable {
        case server, client, admin, direct
    }

    /// The kind of link this frame type belongs on.
    public var linkKind: LinkKind {
        switch self {
        case .serverPeer: .server
        case .clientRequest, .serverPush, .clientFeatures: .client
        case .adminRequest, .adminResponse: .admin
        case .directMessage, .directAcknowledge, .directPing: .direct
        }
    }

    /// Whether `type` is a frame type of a link between servers.
    public static func isServerFrame(_ type: UInt8) -> Bool {
        FrameType(rawValue: type)?.linkKind == .server
    }
}
