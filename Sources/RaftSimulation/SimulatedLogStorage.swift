import Raft
import Synchronization

/// A simulated node's persisted log, read back by its ``RaftNode`` once payloads were evicted
/// from memory (the simulation keeps the cache tiny so that this path runs all the time).
final class SimulatedLogStorage: RaftLogStorage {
    private let persisted = Mutex<[LogEntry]>([])

    /// Replaces the persisted entries (contiguous, in index order).
    func store(_ entries: [LogEntry]) {
        persisted.withLock { $0 = entries }
    }

    func entries(from: LogIndex, through: LogIndex, maxBytes: Int) -> [LogEntry] {
        persisted.withLock { entries in
            guard let first = entries.first?.index, from >= first, from <= through else { return [] }
            var result: [LogEntry] = []
            var bytes = 0
            for entry in entries[Int(from - first)...] where entry.index <= through {
                if !result.isEmpty && bytes + entry.size > maxBytes { break }
                result.append(entry)
                bytes += entry.size
            }
            return result
        }
    }
}
