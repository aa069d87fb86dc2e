import Raft
import Synchronization

/// The log as a ``RaftNode`` reads it back when its log is made durable by a journal and
/// written to LMDB later: entries journaled but not in LMDB yet are read from here, every other
/// one from the ``RaftLogStore``.
///
/// The driver adds a ready's entries (``add(_:truncatingFrom:)``) before it journals them and
/// drops them (``remove(_:)``) once the LMDB transaction that wrote them committed. Until then
/// LMDB may lack them, or still hold, at the same index, an entry that a truncation replaced:
/// the node only reads entries it holds, so any that LMDB lacks or holds stale is here.
public final class JournaledLogStorage: RaftLogStorage {
    public let store: RaftLogStore
    private let pending = Mutex<[LogIndex: LogEntry]>([:])

    public init(store: RaftLogStore) {
        self.store = store
    }

    /// Entries about to be journaled, after a truncation from `truncateFrom` if any (which
    /// replaces pending entries from there on).
    public func add(_ entries: [LogEntry], truncatingFrom truncateFrom: LogIndex?) {
        guard truncateFrom != nil || !entries.isEmpty else { return }
        pending.withLock { pending in
            if let truncateFrom { pending = pending.filter { $0.key < truncateFrom } }
            for entry in entries { pending[entry.index] = entry }
        }
    }

    /// Entries now in LMDB (left pending if a later one replaced them meanwhile).
    public func remove(_ entries: [LogEntry]) {
        guard !entries.isEmpty else { return }
        pending.withLock { pending in
            for entry in entries where pending[entry.index]?.term == entry.term { pending[entry.index] = nil }
        }
    }

    /// How many entries are journaled and not in LMDB yet.
    public var pendingCount: Int { pending.withLock { $0.count } }

    public func entries(from: LogIndex, through: LogIndex, maxBytes: Int) -> [LogEntry] {
        guard from <= through else { return [] }
        var result: [LogEntry] = []
        var bytes = 0
        var index = from
        while index <= through {
            // Runs of entries LMDB holds are read in one go, up to the next pending one.
            let (entry, nextPending) = pending.withLock { pending in
                (pending[index], pending.keys.filter { $0 > index && $0 <= through }.min())
            }
            let run: [LogEntry]
            if let entry {
                run = [entry]
            } else {
                run = store.entries(from: index, through: (nextPending ?? through + 1) - 1, maxBytes: maxBytes - bytes)
                guard !run.isEmpty, run.first?.index == index else { return result }
            }
            for (offset, entry) in run.enumerated() {
                guard entry.index == index + LogIndex(offset) else { return result }
                if !result.isEmpty && bytes + entry.size > maxBytes { return result }
                result.append(entry)
                bytes += entry.size
            }
            guard let last = run.last?.index, last < LogIndex.max else { return result }
            index = last + 1
        }
        return result
    }
}
