import Foundation
import P2PCore
import Raft

extension ReplicatedMailboxes {
    /// Yields at once, then after every applied membership change and every leadership change,
    /// until the replica stops: for callers that wait for the cluster to reach a state (a server
    /// promoted, removed, a new leader) without polling.
    public func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        guard !stopped else {
            continuation.finish()
            return stream
        }
        let key = UUID()
        changeSubscribers[key] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(key) } }
        continuation.yield()
        return stream
    }

    /// Returns once `condition` holds on this replica, or `false` after `timeout` (or when the
    /// replica stops first).
    public func wait(
        until condition: @escaping @Sendable (isolated ReplicatedMailboxes) -> Bool, timeout: Duration
    ) async -> Bool {
        let changes = changes()
        return (try? await withDeadline(timeout, "a replica change") {
            for await _ in changes where await self.holds(condition) { return true }
            return false
        }) ?? false
    }

    private func holds(_ condition: @Sendable (isolated ReplicatedMailboxes) -> Bool) -> Bool { condition(self) }

    private func unsubscribe(_ key: UUID) {
        changeSubscribers[key] = nil
    }

    /// Tells every subscriber that the membership or the leadership changed.
    func announceChange() {
        for subscriber in changeSubscribers.values { subscriber.yield() }
    }

    /// Ends every subscription (the replica stopped).
    func endChanges() {
        for subscriber in changeSubscribers.values { subscriber.finish() }
        changeSubscribers.removeAll()
    }
}
