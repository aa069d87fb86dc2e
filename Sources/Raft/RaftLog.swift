/// The in-memory view of a node's log: a snapshot boundary and the entries after it.
struct RaftLog: Equatable, Sendable {
    /// The last index and term covered by the snapshot (0, 0 for none).
    private(set) var snapshotIndex: LogIndex = 0
    private(set) var snapshotTerm: Term = 0
    /// `entries[i].index == snapshotIndex + 1 + i`.
    private(set) var entries: [LogEntry] = []

    var firstIndex: LogIndex { snapshotIndex + 1 }
    var lastIndex: LogIndex { snapshotIndex + LogIndex(entries.count) }
    var lastTerm: Term { entries.last?.term ?? snapshotTerm }

    /// The term of the entry at `index`; `nil` if compacted away or beyond the end.
    func term(at index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshotTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)].term
    }

    func entry(at index: LogIndex) -> LogEntry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)]
    }

    func matches(index: LogIndex, term: Term) -> Bool {
        self.term(at: index) == term
    }

    /// Raft's "at least as up to date" rule for granting votes.
    func isUpToDate(lastIndex candidateIndex: LogIndex, lastTerm candidateTerm: Term) -> Bool {
        candidateTerm > lastTerm || (candidateTerm == lastTerm && candidateIndex >= lastIndex)
    }

    /// Entries from `index` on, bounded by count and bytes (at least one if any exist).
    func entries(from index: LogIndex, maxCount: Int, maxBytes: Int) -> [LogEntry] {
        guard index > snapshotIndex, index <= lastIndex else { return [] }
        var result: [LogEntry] = []
        var bytes = 0
        for entry in entries[Int(index - snapshotIndex - 1)...] {
            if !result.isEmpty && (result.count >= maxCount || bytes + entry.size > maxBytes) { break }
            result.append(entry)
            bytes += entry.size
        }
        return result
    }

    /// All entries in `[from, through]` (both within the log).
    func entries(from: LogIndex, through: LogIndex) -> [LogEntry] {
        guard from <= through, from > snapshotIndex, through <= lastIndex else { return [] }
        return Array(entries[Int(from - snapshotIndex - 1)...Int(through - snapshotIndex - 1)])
    }

    /// The first index of the run of entries with the same term as `index`, for rejection hints.
    func firstIndexOfTerm(at index: LogIndex) -> LogIndex {
        guard let term = term(at: index) else { return index }
        var first = index
        while first > firstIndex, self.term(at: first - 1) == term { first -= 1 }
        return first
    }

    /// The last index whose term is `<= term`, for the leader's side of fast backtracking.
    func lastIndex(withTermAtMost term: Term) -> LogIndex {
        var index = lastIndex
        while index > snapshotIndex, let t = self.term(at: index), t > term { index -= 1 }
        return index
    }

    mutating func append(_ newEntries: [LogEntry]) {
        entries.append(contentsOf: newEntries)
    }

    /// Removes entries with index >= `index`.
    mutating func truncate(from index: LogIndex) {
        guard index > snapshotIndex else {
            entries.removeAll()
            return
        }
        if index <= lastIndex { entries.removeSubrange(Int(index - snapshotIndex - 1)...) }
    }

    /// Drops entries up to and including `index`, which becomes the snapshot boundary.
    mutating func compact(through index: LogIndex) {
        guard index > snapshotIndex, let term = term(at: index) else { return }
        entries.removeFirst(Int(index - snapshotIndex))
        snapshotIndex = index
        snapshotTerm = term
    }

    /// Replaces everything with a snapshot boundary and no entries.
    mutating func reset(toSnapshotIndex index: LogIndex, term: Term) {
        entries.removeAll()
        snapshotIndex = index
        snapshotTerm = term
    }
}
