import LMDB
import P2PCore
import Raft

extension RaftLogStore {
    /// Makes step 1 of a ``RaftReady`` durable: truncation, new entries, hard state and snapshot,
    /// in one LMDB transaction (one sync), before the driver sends the ready's messages.
    public func persist(_ ready: RaftReady) throws {
        guard ready.needsPersistence else { return }
        try persist(Self.batch(of: ready))
    }

    /// Step 1 of `ready` written in the caller's transaction (see ``write(_:in:)``).
    public func write(_ ready: RaftReady, in txn: borrowing WriteTransaction) throws {
        guard ready.needsPersistence else { return }
        try write(Self.batch(of: ready), in: txn)
    }

    private static func batch(of ready: RaftReady) -> Batch {
        Batch(
            truncateFrom: ready.truncateFrom,
            entries: ready.entries.map { StoredEntry(index: $0.index, term: $0.term, bytes: $0.encodedPayload()) },
            hardState: ready.hardState?.encoded(),
            snapshot: ready.snapshot.map {
                StoredSnapshot(index: $0.metadata.index, term: $0.metadata.term, metadata: $0.metadata.encoded(), data: $0.data)
            }
        )
    }

    /// Whether anything was ever persisted (without reading it all, unlike ``loadPersistedState()``).
    public func hasPersistedState() throws -> Bool {
        try isEmpty() == false
    }

    /// What a restarting ``RaftNode`` needs; `nil` when nothing was ever persisted.
    public func loadPersistedState() throws -> PersistedState? {
        let loaded = try load()
        guard loaded.hardState != nil || loaded.snapshot != nil || !loaded.entries.isEmpty else { return nil }
        let hardState = try loaded.hardState.map { bytes throws(DecodingError) in try HardState(decoding: bytes) } ?? HardState()
        let snapshot = try loaded.snapshot.map { stored throws(DecodingError) in
            Snapshot(metadata: try SnapshotMetadata(decoding: stored.metadata), data: stored.data)
        }
        let entries = try loaded.entries.map { stored throws(DecodingError) in
            try LogEntry(index: stored.index, term: stored.term, decodingPayload: stored.bytes)
        }
        return PersistedState(hardState: hardState, snapshot: snapshot, entries: entries)
    }
}

extension RaftLogStore: RaftLogStorage {
    /// Reads persisted entries back for a ``RaftNode`` that evicted their payloads; an entry that
    /// cannot be read or decoded ends the run early (the node retries later).
    public func entries(from: LogIndex, through: LogIndex, maxBytes: Int) -> [LogEntry] {
        guard from <= through else { return [] }
        var result: [LogEntry] = []
        var bytes = 0
        _ = try? scanEntries(from: from) { stored in
            guard stored.index <= through, let entry = try? LogEntry(index: stored.index, term: stored.term, decodingPayload: stored.bytes) else {
                return false
            }
            if !result.isEmpty && bytes + entry.size > maxBytes { return false }
            result.append(entry)
            bytes += entry.size
            return true
        }
        return result
    }
}
