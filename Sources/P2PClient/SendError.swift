import P2PCore

/// Why `send` did not return normally. ``willStillBeDelivered`` tells whether the message will still be
/// delivered (exactly once) or was never accepted.
public enum SendError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The payload is larger than `limit` bytes. Not accepted: nothing was stored.
    case messageTooLarge(size: Int, limit: Int)
    /// No client with this id is known to the cluster. Not accepted: nothing was stored.
    case unknownRecipient(NodeID)
    /// No server could be reached to check or take the message. Not accepted: nothing was stored.
    case noReachableServer
    /// The recipient's mailbox is full; the message was refused (and will never be delivered).
    case mailboxFull(NodeID)
    /// This client already has `limit` messages (and skips) waiting in the recipient's mailbox.
    /// Not accepted: the message will never be delivered (the recipient passes over its id).
    /// Send again once the recipient has taken some of its mail.
    case quotaExceeded(NodeID, limit: Int)
    /// The cluster's storage is full (`limit` bytes over all mailboxes). Not accepted: the
    /// message will never be delivered (the recipient passes over its id).
    case storageFull(limit: Int)
    /// The message's time to live ran out before its recipient took it: the cluster decided,
    /// once, that it will never be delivered (the recipient passes over its id; the next message
    /// to the same recipient is delivered in order). Definitive: the recipient's application did
    /// not and will not get it (docs/DELIVERY.md, "Expiry").
    case expired(MessageID)
    /// The deadline passed after the cluster committed the message to the recipient's mailbox:
    /// it will still be delivered, exactly once, when the recipient comes back — or, if it has
    /// a time to live, expire (never both).
    case stored(MessageID)
    /// The deadline passed before any server confirmed the message. It is in this client's
    /// durable outbox and is retried (also after a restart) until a server accepts it: it will
    /// be delivered exactly once, but nothing has confirmed that yet.
    case pending(MessageID)
    /// The client was shut down.
    case clientStopped

    /// Whether the message is safely on its way (it will be delivered exactly once — or, with a
    /// time to live, delivered or expired).
    public var willStillBeDelivered: Bool {
        switch self {
        case .stored, .pending: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .messageTooLarge(let size, let limit): "message of \(size) bytes exceeds the limit of \(limit): not accepted"
        case .unknownRecipient(let id): "no client \(id) is known to the cluster: not accepted"
        case .noReachableServer: "no server is reachable: not accepted"
        case .mailboxFull(let id): "the mailbox of \(id) is full: refused"
        case .quotaExceeded(let id, let limit):
            "this client already has \(limit) messages waiting in the mailbox of \(id): not accepted, it will not be delivered"
        case .storageFull(let limit): "the cluster's storage is full (\(limit) bytes): not accepted, it will not be delivered"
        case .expired(let id): "\(id) expired before its recipient took it: it will never be delivered"
        case .stored(let id): "not acknowledged in time, but stored in the recipient's mailbox: \(id) will still be delivered, exactly once"
        case .pending(let id): "not confirmed in time: \(id) stays in the outbox and is retried until delivered, exactly once"
        case .clientStopped: "the client was shut down"
        }
    }
}

/// Why a client could not start.
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No server accepted the client within the start timeout; `reasons` tells, per address, why.
    case noReachableServer(reasons: [String: String])
    /// A server refused the client (e.g. its id is bound to another key).
    case refused(String)
    /// The listen address for direct links could not be bound (in use, not an address of this host).
    case cannotListen(String)
    /// The node at a server address proved the cluster secret but is not a server this client
    /// trusts (not pinned, not a member of the trusted cluster): possibly a client posing as a server.
    case untrustedServer(NodeID, String)
    /// ``ClientConfiguration/clusterKey`` is not a cluster fingerprint (43 characters of base64url).
    case invalidClusterKey(String)

    public var description: String {
        switch self {
        case .noReachableServer(let reasons):
            "no server accepted the client: " + reasons.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
        case .refused(let reason): "refused by the cluster: \(reason)"
        case .cannotListen(let reason): "cannot listen for direct links on \(reason)"
        case .untrustedServer(let id, let why): "untrusted server \(id): \(why)"
        case .invalidClusterKey(let text): "'\(text)' is not a cluster key fingerprint (43 characters of base64url, as `p2pcore-server cluster-key` prints it)"
        }
    }
}
