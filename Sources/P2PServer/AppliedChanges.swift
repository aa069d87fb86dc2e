import Synchronization

/// Hands what the replica applied to the client gateway, in order, on the replica's own thread:
/// no task to wake between an applied batch and the session pushes it starts (the gateway's
/// handler only looks up sessions and spawns their work).
///
/// Batches applied before the gateway takes them (a restart re-applies committed entries before
/// the gateway runs) wait, at most ``waitingLimit`` of them: before the gateway runs there is no
/// session to wake, so older ones can go.
final class AppliedChanges: Sendable {
    typealias Handler = @Sendable ([ReplicatedMailboxes.AppliedChange]) -> Void

    static let waitingLimit = 1024

    private struct State {
        var handler: Handler?
        var waiting: [[ReplicatedMailboxes.AppliedChange]] = []
        var finished = false
    }

    private let state = Mutex(State())

    /// From the replica: hands `changes` to the handler, or keeps them for it.
    func yield(_ changes: [ReplicatedMailboxes.AppliedChange]) {
        // Under the lock, so that a handler taking over cannot overtake the waiting batches.
        state.withLock { state in
            if let handler = state.handler {
                handler(changes)
            } else if !state.finished {
                if state.waiting.count == Self.waitingLimit { state.waiting.removeFirst() }
                state.waiting.append(changes)
            }
        }
    }

    /// Makes `handler` the taker of every applied batch, starting with those waiting.
    func handle(with handler: @escaping Handler) {
        state.withLock { state in
            guard !state.finished else { return }
            for changes in state.waiting { handler(changes) }
            state.waiting = []
            state.handler = handler
        }
    }

    /// Nothing more is handed over (the replica stopped, or the gateway did).
    func finish() {
        state.withLock { state in
            state.finished = true
            state.handler = nil
            state.waiting = []
        }
    }
}
