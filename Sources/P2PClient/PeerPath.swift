import P2PCore
import Synchronization

/// How messages to a peer travel now.
public enum PeerPathKind: String, Sendable, Codable {
    /// A TCP link on a shared LAN.
    case lan
    /// A KCP tunnel over UDP (hole-punched through NATs, or straight).
    case udp
    /// Through the servers' mailboxes.
    case relay

    init(_ kind: DirectPathKind?) {
        switch kind {
        case .lan: self = .lan
        case .udp: self = .udp
        case nil: self = .relay
        }
    }
}

/// What an attempt at a direct path tried.
public enum PathAttemptKind: String, Sendable, Codable {
    /// Dialling the peer's LAN addresses.
    case lan
    /// Hole punching a UDP path (the side a server asked to punch back tries only this).
    case udp
    /// Both at once (the side that asked for the introduction).
    case lanAndUDP = "lan+udp"
}

/// The last attempt at a direct path to a peer.
public struct PathAttempt: Sendable, Equatable {
    /// When it ended.
    public var ended: ContinuousClock.Instant
    public var kind: PathAttemptKind
    public var succeeded: Bool
    /// What happened: the path that came up, or why none did ("no UDP reply from …").
    public var reason: String
}

/// One peer's path as this client sees it (``P2PClient/paths()``).
public struct PeerPath: Sendable, Equatable {
    public var peer: NodeID
    public var path: PeerPathKind
    /// Smoothed round-trip time of the direct path (from its keepalive pings), once measured.
    public var rtt: Duration?
    /// Share of the direct path's recent keepalive pings left unanswered (0…1), once known.
    public var loss: Double?
    /// The last attempt at a direct path, if any was made.
    public var lastAttempt: PathAttempt?
}

/// A change of a peer's path, or an attempt that did not change it (``P2PClient/pathEvents``).
public struct PathEvent: Sendable, Equatable {
    public var peer: NodeID
    /// The path messages to the peer take after the event.
    public var path: PeerPathKind
    /// Why ("LAN link up to 10.0.1.11:7100", "UDP tunnel silent, closed", "no UDP reply from …").
    public var reason: String
    /// The round-trip time of the path, when it is direct and measured.
    public var rtt: Duration?
}

/// Hands path events to every current subscriber (each gets its own stream; a slow one loses
/// its oldest events, never blocks the paths).
final class PathEventBroadcast: Sendable {
    private let subscribers = Mutex<[UInt64: AsyncStream<PathEvent>.Continuation]>([:])
    private let next = Atomic<UInt64>(0)
    /// Counts events, so a reporter can tell whether anything happened since it last looked.
    private let count = Atomic<UInt64>(0)

    static let buffered = 256

    func subscribe() -> AsyncStream<PathEvent> {
        let (stream, continuation) = AsyncStream<PathEvent>.makeStream(bufferingPolicy: .bufferingNewest(Self.buffered))
        let key = next.wrappingAdd(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[key] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: key) }
        }
        return stream
    }

    func yield(_ event: PathEvent) {
        count.wrappingAdd(1, ordering: .relaxed)
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(event) }
    }

    var eventCount: UInt64 { count.load(ordering: .relaxed) }

    func finish() {
        for continuation in subscribers.withLock({ subscribers in
            defer { subscribers.removeAll() }
            return Array(subscribers.values)
        }) { continuation.finish() }
    }
}
