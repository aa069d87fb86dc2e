import Synchronization

/// What a fleet of simulated clients did, counted across all of them.
public final class FleetCounters: Sendable {
    /// Welcomes received (every attach, including re-attaches after a link ended).
    public let welcomes = Atomic<Int>(0)
    /// Dial or handshake attempts that failed, and links that ended after a welcome.
    public let failedAttempts = Atomic<Int>(0)
    public let lostLinks = Atomic<Int>(0)
    /// Pushed messages handed to the "application" (skips not counted), duplicates recognised,
    /// and acknowledgements sent.
    public let delivered = Atomic<Int>(0)
    public let duplicates = Atomic<Int>(0)
    public let acknowledgements = Atomic<Int>(0)
    /// UDP observations answered and not answered within their timeout.
    public let observations = Atomic<Int>(0)
    public let unansweredObservations = Atomic<Int>(0)

    init() {}

    /// Every counter, in this order: welcomes, failed attempts, lost links, observations, unanswered observations, delivered, duplicates.
    public var all: [Int] {
        [
            welcomes.load(ordering: .relaxed), failedAttempts.load(ordering: .relaxed), lostLinks.load(ordering: .relaxed),
            observations.load(ordering: .relaxed), unansweredObservations.load(ordering: .relaxed), delivered.load(ordering: .relaxed),
            duplicates.load(ordering: .relaxed),
        ]
    }
}

/// How many simulated clients each server has welcomed (and whose link is still up).
public final class AttachmentBoard: Sendable {
    private let counts: Mutex<[Int]>

    init(servers: Int) {
        counts = Mutex([Int](repeating: 0, count: servers))
    }

    func attached(_ server: Int) { counts.withLock { $0[server] += 1 } }
    func detached(_ server: Int) { counts.withLock { $0[server] -= 1 } }

    /// Clients attached to the server with this index (in the fleet's configured order).
    public func count(_ server: Int) -> Int { counts.withLock { $0[server] } }

    /// Every server's count.
    public var all: [Int] { counts.withLock { $0 } }
}
