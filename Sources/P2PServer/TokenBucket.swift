/// A token bucket: `rate` tokens a second, at most `burst` saved up. Deterministic: the caller
/// passes the time.
struct TokenBucket {
    let rate: Double
    let burst: Double
    private var tokens: Double
    private var updated: ContinuousClock.Instant?

    init(rate: Double, burst: Double) {
        self.rate = max(rate, 0.001)
        self.burst = max(burst, 1)
        tokens = self.burst
    }

    /// Takes one token; returns how long the caller must wait before acting (zero if a token was there).
    mutating func take(now: ContinuousClock.Instant) -> Duration {
        if let updated {
            let elapsed = now - updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(burst, tokens + seconds * rate)
        }
        updated = now
        tokens -= 1
        guard tokens < 0 else { return .zero }
        return .nanoseconds(Int64((-tokens / rate) * 1e9))
    }
}
