import Transport

/// Application frame types on server links.
enum ServerFrameType {
    /// First frame on a link between servers: the sender's listen address.
    static let serverHello: UInt8 = Link.firstApplicationType
    /// A Raft message between servers.
    static let raft: UInt8 = Link.firstApplicationType + 1
}
