/// KCP's `nodelay` setting: how eagerly lost segments are retransmitted.
public enum NoDelayMode: Int, Sendable, CaseIterable {
    /// Minimum RTO 100 ms; a segment's RTO doubles on every timeout.
    case off = 0
    /// Minimum RTO 30 ms; a segment's RTO grows by half of itself on every timeout.
    case on = 1
    /// Minimum RTO 30 ms; a segment's RTO grows by half of the current RTO estimate.
    case aggressive = 2
}
