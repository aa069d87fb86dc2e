/// A doubling pause between retries, in logical milliseconds: `first`, `2·first`, … up to `longest`.
struct Backoff: Equatable, Sendable {
    private(set) var current: UInt64
    var longest: UInt64

    init(first: UInt64, longest: UInt64) {
        current = first
        self.longest = longest
    }

    /// The pause to wait now; the next one is twice as long (at most `longest`).
    mutating func next() -> UInt64 {
        defer { current = min(current &* 2, longest) }
        return min(current, longest)
    }
}
