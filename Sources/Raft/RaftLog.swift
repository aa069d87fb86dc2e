import DequeModule

/// A node's view of its log: a snapshot boundary, every entry's term after it, and the payloads
/// of the most recent entries.
///
/// Terms stay in memory (eight bytes per entry: elections and log matching need them all).
/// Payloads are kept for entries not yet durable and not yet applied, plus up to
/// ``RaftConfiguration/maxCachedLogBytes`` of recent ones for followers that lag a little; older
/// payloads are read back from the ``RaftLogStorage`` when a lagging follower or a restart needs
/// them. Without a storage every payload stays in memory.
struct RaftLog: Sendable {
    /// The last index and term covered by the snapshot (0, 0 for none).
    private(set) var snapshotIndex: LogIndex = 0
    private(set) var snapshotTerm: Term = 0
    /// `terms[i]` is the term of entry `snapshotIndex + 1 + i`.
    private var terms: [Term] = []
    /// The entries from `cacheStart` through ``lastIndex``, with their payloads.
    private var cache = Deque<LogEntry>()
    private var cacheStart: LogIndex = 1
    private var cachedBytes = 0
    /// Entries through this index are durable (handed out by an earlier ready, or restored).
    private var durableThrough: LogIndex = 0
    private let storage: (any RaftLogStorage)?

    init(storage: (any RaftLogStorage)? = nil) {
        self.storage = storage
    }

    /// Payload bytes held in memory (for tests and diagnostics).
    var cachedPayloadBytes: Int { cachedBytes }

    var firstIndex: LogIndex { snapshotIndex + 1 }
    var lastIndex: LogIndex { snapshotIndex + LogIndex(terms.count) }
    var lastTerm: Term { terms.last ?? snapshotTerm }

    /// The term of the entry at `index`; `nil` if compacted away or beyond the end.
    func term(at index: LogIndex) -> Term? {
        if index == snapshotIndex { return snapshotTerm }
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return terms[Int(index - snapshotIndex - 1)]
    }

    func entry(at index: LogIndex) -> LogEntry? {
        entries(from: index, through: index).first
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
        let through = min(lastIndex, index + LogIndex(max(maxCount, 1)) - 1)
        return entries(from: index, through: through, maxBytes: maxBytes)
    }

    /// The entries in `[from, through]` (both within the log), stopping before `maxBytes` (at
    /// least one). Shorter than asked only if the storage could not read evicted ones.
    func entries(from: LogIndex, through: LogIndex, maxBytes: Int = .max) -> [LogEntry] {
        guard from <= through, from > snapshotIndex, through <= lastIndex else { return [] }
        var result: [LogEntry] = []
        var bytes = 0
        if from < cacheStart {
            guard let storage else { return [] }
            let stored = storage.entries(from: from, through: min(through, cacheStart - 1), maxBytes: maxBytes)
            // Only a contiguous run from `from`, with the terms this log knows, is used.
            for entry in stored {
                guard entry.index == from + LogIndex(result.count), term(at: entry.index) == entry.term else { break }
                result.append(entry)
                bytes += entry.size
            }
            guard result.count == Int(min(through, cacheStart - 1) - from + 1) else { return result }
        }
        var index = max(from, cacheStart)
        while index <= through {
            let entry = cache[Int(index - cacheStart)]
            if !result.isEmpty && bytes + entry.size > maxBytes { break }
            result.append(entry)
            bytes += entry.size
            index += 1
        }
        return result
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
        if cache.isEmpty { cacheStart = lastIndex + 1 }
        for entry in newEntries {
            terms.append(entry.term)
            cache.append(entry)
            cachedBytes += entry.size
        }
    }

    /// Removes entries with index >= `index`.
    mutating func truncate(from index: LogIndex) {
        guard index > snapshotIndex else {
            reset(toSnapshotIndex: snapshotIndex, term: snapshotTerm)
            return
        }
        guard index <= lastIndex else { return }
        terms.removeSubrange(Int(index - snapshotIndex - 1)...)
        if index < cacheStart {
            // Entries before the cache are durable: the cache restarts after the new end.
            cache.removeAll()
            cachedBytes = 0
            cacheStart = index
        } else {
            while cache.count > Int(index - cacheStart), let removed = cache.popLast() { cachedBytes -= removed.size }
        }
        durableThrough = min(durableThrough, index - 1)
    }

    /// Drops entries up to and including `index`, which becomes the snapshot boundary.
    mutating func compact(through index: LogIndex) {
        guard index > snapshotIndex, let term = term(at: index) else { return }
        terms.removeFirst(Int(index - snapshotIndex))
        while let first = cache.first, first.index <= index {
            cachedBytes -= first.size
            cache.removeFirst()
        }
        cacheStart = max(cacheStart, index + 1)
        snapshotIndex = index
        snapshotTerm = term
    }

    /// Replaces everything with a snapshot boundary and no entries.
    mutating func reset(toSnapshotIndex index: LogIndex, term: Term) {
        terms.removeAll()
        cache.removeAll()
        cachedBytes = 0
        cacheStart = index + 1
        snapshotIndex = index
        snapshotTerm = term
        durableThrough = min(durableThrough, index)
    }

    /// Everything in the log is durable now (the driver persisted what the last ready handed out).
    mutating func markDurable() {
        durableThrough = lastIndex
    }

    /// The driver persisted the log through `index`, whose entry had `term` then; ignored if the
    /// log was truncated and rewritten there since.
    mutating func markDurable(through index: LogIndex, term: Term) {
        guard index <= lastIndex, self.term(at: index) == term else { return }
        durableThrough = max(durableThrough, index)
    }

    /// The last index known durable.
    var durableIndex: LogIndex { durableThrough }

    /// Drops the payloads of durable entries at or below `applied` while more than `keepBytes`
    /// are cached; they are read back from the storage when needed. A no-op without a storage.
    mutating func evict(appliedThrough applied: LogIndex, keepBytes: Int) {
        guard storage != nil else { return }
        let bound = min(applied, durableThrough)
        while cachedBytes > keepBytes, let first = cache.first, first.index <= bound {
            cachedBytes -= first.size
            cache.removeFirst()
            cacheStart = first.index + 1
        }
    }
}
