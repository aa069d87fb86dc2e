/// Exponential backoff between retries: the first delay is `initial`, each next one doubles, up
/// to `maximum`; ``reset()`` after a success starts over.
///
/// A value, so that it is deterministic: callers that want jitter add their own seeded one.
public struct Backoff: Sendable, Equatable {
    public let initial: Duration
    /// The longest delay (it may change between retries, e.g. when what is retried changes).
    public var maximum: Duration
    /// The delay ``next()`` returns next.
    public private(set) var current: Duration

    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        current = initial
    }

    /// The delay to wait now; the one after doubles (at most ``maximum``).
    public mutating func next() -> Duration {
        defer { current = min(current * 2, maximum) }
        return min(current, maximum)
    }

    /// Starts over from ``initial`` (after a success).
    public mutating func reset() {
        current = initial
    }
}

extension Duration {
    /// The duration in whole milliseconds (negative durations count as zero), for pure cores
    /// that keep logical time in milliseconds.
    public var wholeMilliseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) &* 1000 &+ UInt64(max(0, attoseconds) / 1_000_000_000_000_000)
    }
}
