/// Exponential backoff between retries: the first delay is `initial`, each next one doubles, up
/// to `maximum`; ``reset()`` after a success starts over.
///
/// A value, so that it is deterministic: callers that want jitter add their own seeded one.
public struct Backoff: Sendable, Equatable {
    public let initial: Duration
    public let maximum: Duration
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
        return current
    }

    /// Starts over from ``initial`` (after a success).
    public mutating func reset() {
        current = initial
    }
}
