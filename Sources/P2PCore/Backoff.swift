/// Exponential backoff between retries: the first delay is `initial`, each next one doubles, up
/// to `maximum`; ``reset()`` after a success starts over.
///
/// A value, so that it is deterministic: jitter comes only from the generator a caller passes to
/// ``next(jitteredBy:)``.
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

    /// The delay to wait now with full jitter: uniform between zero and what ``next()`` would
    /// return (the one after doubles all the same). Many peers retrying against one server after
    /// the same event then spread over the whole window instead of arriving in synchronised waves.
    public mutating func next(jitteredBy random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = next()
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanoseconds, using: &random))
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
