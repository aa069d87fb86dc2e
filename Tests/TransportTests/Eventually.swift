/// Waits for a condition that no event announces (a counter reaching a value, a queue that stops
/// moving), polling it under a deadline.
enum Eventually {
    struct TimedOut: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }

    /// Returns once `condition` holds; throws ``TimedOut`` after `limit`.
    static func until(
        _ what: String, within limit: Duration = .seconds(20), _ condition: @Sendable () -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The value of `sample` once it stayed the same for `quiet` (it stopped moving); throws
    /// ``TimedOut`` after `limit`.
    static func settled<T: Equatable>(
        _ what: String, quiet: Duration = .milliseconds(300), within limit: Duration = .seconds(20), _ sample: @Sendable () -> T
    ) async throws -> T {
        let deadline = ContinuousClock.now + limit
        var last = sample()
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: quiet)
            let now = sample()
            if now == last { return now }
            last = now
        }
        throw TimedOut(what: what)
    }
}
