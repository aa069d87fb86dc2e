/// Which verified observe requests (``UDPObserveRequest``) a server answers: those stamped within
/// ``window`` of its own clock, each nonce once.
///
/// A request is signed with its timestamp, so a captured one can be replayed only while its
/// timestamp is inside the window; the nonces of answered requests are remembered exactly that
/// long (by the second of their timestamp), so a replay inside the window is recognised. Memory is
/// bounded by ``capacity`` nonces: beyond it the oldest second's nonces are forgotten and every
/// request stamped in that second or earlier is refused from then on (``Verdict/crowdedOut``) —
/// the window shrinks instead of a replay getting through. Only a flood of more than ``capacity``
/// verified requests within one window gets there; honest clients, stamping the present, are
/// affected only if their clock is behind by about the window's shrinkage.
///
/// A pure value: the caller passes the time (milliseconds since 1970).
struct ObserveReplayGuard: Sendable {
    /// How far a request's timestamp may be from the server's clock, either way (milliseconds).
    static let window: Int64 = 30_000
    /// Nonces remembered at most (16 bytes each, plus the set's overhead: a few MiB).
    static let capacity = 131_072

    enum Verdict: Equatable, Sendable {
        /// Answer it (its nonce is now remembered).
        case fresh
        /// Its nonce was answered before within the window.
        case replayed
        /// Stamped more than ``ObserveReplayGuard/window`` from now, either way.
        case outsideWindow
        /// Stamped in a second whose nonces were forgotten at the cap.
        case crowdedOut
    }

    /// A 16-byte nonce as two words (no array per nonce).
    struct Nonce: Hashable, Sendable {
        let high: UInt64
        let low: UInt64

        init?(_ bytes: [UInt8]) {
            guard bytes.count == 16 else { return nil }
            high = bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
            low = bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    let window: Int64
    let capacity: Int
    /// Remembered nonces by the second of their timestamp.
    private var seconds: [Int64: Set<Nonce>] = [:]
    private(set) var count = 0
    /// Requests stamped in this second or earlier are refused (their nonces may have been forgotten).
    private(set) var floor: Int64?
    /// The second up to which expired nonces were last forgotten.
    private var prunedBefore = Int64.min

    init(window: Int64 = Self.window, capacity: Int = Self.capacity) {
        self.window = max(window, 0)
        self.capacity = max(capacity, 1)
    }

    /// Whether `timestamp` is within `window` of `now`, either way (the cheap first check).
    static func isInWindow(_ timestamp: Int64, now: Int64, window: Int64 = Self.window) -> Bool {
        let (earliest, earliestOverflow) = now.subtractingReportingOverflow(window)
        let (latest, latestOverflow) = now.addingReportingOverflow(window)
        return !earliestOverflow && !latestOverflow && timestamp >= earliest && timestamp <= latest
    }

    /// Judges the request with `nonce` stamped `timestamp` at `now`, remembering it if fresh. A
    /// nonce that is not 16 bytes is never fresh.
    mutating func admit(nonce bytes: [UInt8], timestamp: Int64, now: Int64) -> Verdict {
        guard Self.isInWindow(timestamp, now: now, window: window) else { return .outsideWindow }
        guard let nonce = Nonce(bytes) else { return .replayed }
        let second = Self.second(of: timestamp)
        if let floor, second <= floor { return .crowdedOut }
        forgetExpired(before: Self.second(of: now - window))
        guard seconds[second, default: []].insert(nonce).inserted else { return .replayed }
        count += 1
        while count > capacity, let oldest = seconds.keys.min(), let dropped = seconds.removeValue(forKey: oldest) {
            count -= dropped.count
            floor = max(floor ?? oldest, oldest)
        }
        return .fresh
    }

    /// Forgets the nonces of seconds wholly before `second`: their requests are outside the window now.
    private mutating func forgetExpired(before second: Int64) {
        guard second > prunedBefore else { return }
        prunedBefore = second
        for (key, nonces) in seconds where key < second {
            seconds[key] = nil
            count -= nonces.count
        }
    }

    /// The whole second `milliseconds` falls in (rounded down, also below zero).
    static func second(of milliseconds: Int64) -> Int64 {
        milliseconds >= 0 ? milliseconds / 1000 : -((-(milliseconds + 1)) / 1000) - 1
    }
}
