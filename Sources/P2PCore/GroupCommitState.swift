/// The state of a group-commit queue (kept under the owner's lock): items queued while one
/// commit runs go, in order, into the next one, and items that may wait (`hold`) wait for the
/// next item that may not, or for a delayed drain, to share its commit.
///
/// The owner carries out what ``enqueue(_:hold:)`` answers (start a drain now, schedule one
/// after its delay, or nothing) and drains by taking ``takeQueued()`` until it is empty.
public struct GroupCommitState<Item: Sendable>: Sendable {
    /// What the owner must do after ``enqueue(_:hold:)``.
    public enum Start: Sendable {
        /// Nothing: a drain runs or is scheduled.
        case none
        /// Start a drain.
        case now
        /// Schedule a drain after the hold delay (then call ``claimHeld()``).
        case afterHoldDelay
    }

    private var queued: [Item] = []
    /// Whether a drain is started or running.
    private var draining = false
    /// Whether a delayed drain of held items is scheduled.
    private var holdScheduled = false

    public init() {}

    /// Queues `item` after every item queued before it.
    public mutating func enqueue(_ item: Item, hold: Bool) -> Start {
        queued.append(item)
        guard !draining else { return .none }
        if hold {
            guard !holdScheduled else { return .none }
            holdScheduled = true
            return .afterHoldDelay
        }
        draining = true
        return .now
    }

    /// The delayed drain came: whether to drain the held items now. False when a drain runs
    /// (it takes them) or nothing is queued.
    public mutating func claimHeld() -> Bool {
        holdScheduled = false
        guard !draining, !queued.isEmpty else { return false }
        draining = true
        return true
    }

    /// Everything queued, for the drain's next commit; empty (and the drain over) when nothing is.
    public mutating func takeQueued() -> [Item] {
        defer { queued.removeAll(keepingCapacity: true) }
        if queued.isEmpty { draining = false }
        return queued
    }
}
