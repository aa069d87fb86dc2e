import DequeModule

/// The leader's view of one follower's replication.
struct Progress: Equatable, Sendable {
    enum State: Equatable, Sendable {
        /// Unsure where the follower's log matches: one AppendEntries at a time.
        case probe
        /// Matching is known: AppendEntries are pipelined up to the inflight window.
        case replicate
        /// A snapshot is on its way.
        case snapshot(pendingIndex: LogIndex)
    }

    var match: LogIndex = 0
    var next: LogIndex
    var state: State = .probe
    /// In probe state: a message was sent and we wait for its answer or the next heartbeat.
    var probeSent = false
    /// Last index of each AppendEntries in flight (replicate state).
    var inflight: Deque<LogIndex> = []
    /// Heard from since the last check-quorum round.
    var recentActive = false
    /// `match` at the previous election-timeout check, to detect stalled replication.
    var matchAtLastCheck: LogIndex = 0

    init(next: LogIndex) {
        self.next = next
    }

    func isPaused(maxInflight: Int) -> Bool {
        switch state {
        case .probe: probeSent
        case .replicate: inflight.count >= maxInflight
        case .snapshot: true
        }
    }

    mutating func becomeProbe() {
        if case .snapshot(let pending) = state {
            next = max(match + 1, pending + 1)
        } else {
            next = match + 1
        }
        state = .probe
        probeSent = false
        inflight.removeAll()
    }

    mutating func becomeReplicate() {
        state = .replicate
        next = match + 1
        inflight.removeAll()
    }

    /// Records a successful acknowledgement of `index`; returns whether it advanced `match`.
    mutating func acknowledge(_ index: LogIndex) -> Bool {
        var advanced = false
        if index > match {
            match = index
            advanced = true
            probeSent = false
        }
        next = max(next, index + 1)
        while let first = inflight.first, first <= index { inflight.removeFirst() }
        return advanced
    }
}
