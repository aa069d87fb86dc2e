import P2PCore

/// Names one `send` call (chosen by the shell, unique among its sends): its outcome comes back
/// in ``ClientCore/Directive/finishSend(_:_:)``.
public struct SendToken: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: SendToken, b: SendToken) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "send#\(rawValue)" }
}

/// Names one direct link to another client (chosen by the shell, never reused while the
/// process runs), so that an acknowledgement goes back on the very link its message came on.
public struct DirectLinkID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: DirectLinkID, b: DirectLinkID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "direct#\(rawValue)" }
}

/// A message this client sent: a message id names a sequence number per recipient, so it is
/// unique only together with its recipient.
public struct OutboxKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let recipient: NodeID
    public let id: MessageID

    public init(recipient: NodeID, id: MessageID) {
        self.recipient = recipient
        self.id = id
    }

    public static func < (a: OutboxKey, b: OutboxKey) -> Bool {
        (a.recipient, a.id.sequence) < (b.recipient, b.id.sequence)
    }

    public var description: String { "\(id)→\(recipient)" }
}

/// Where a received copy came from, hence where its acknowledgement goes.
public enum Route: Hashable, Sendable {
    /// Pushed by this server from the mailbox: acknowledged to it (else to the subscribed server).
    case relay(server: NodeID)
    /// Sent by the sender itself on this direct link: acknowledged on the same link.
    case direct(DirectLinkID)
}
