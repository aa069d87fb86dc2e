import LMDB
import P2PCore
import Raft

/// Durable Raft state in LMDB: the log, the hard state and the latest snapshot.
///
/// Raft's safety rests on ordering: the vote and the appended entries must be on disk before any
/// message that depends on them is sent. ``persist(_:)`` writes one ``Batch`` — any truncation,
/// every new entry, the hard state and the snapshot — in a single LMDB transaction with one sync
/// (group commit), and returns only once it is durable.
///
/// Layout: `raft.log` index → term ‖ entry bytes; `raft.meta` `hardState`, `snapshotMeta`;
/// `raft.snapshot` `data` → the state machine snapshot.
public final class RaftLogStore: Sendable {
    /// One log entry as stored: its position and its encoded form.
    public struct StoredEntry: Equatable, Sendable {
        public let index: UInt64
        public let term: UInt64
        public let bytes: [UInt8]

        public init(index: UInt64, term: UInt64, bytes: [UInt8]) {
            self.index = index
            self.term = term
            self.bytes = bytes
        }
    }

    /// A snapshot as stored: the index and term it covers, opaque metadata (membership), the data.
    public struct StoredSnapshot: Equatable, Sendable {
        public let index: UInt64
        public let term: UInt64
        public let metadata: [UInt8]
        public let data: [UInt8]

        public init(index: UInt64, term: UInt64, metadata: [UInt8], data: [UInt8]) {
            self.index = index
            self.term = term
            self.metadata = metadata
            self.data = data
        }
    }

    /// Everything one Raft step asks to make durable, written atomically.
    public struct Batch: Sendable {
        /// Remove every stored entry with index >= this (a conflicting suffix), before appending.
        public var truncateFrom: UInt64?
        /// New entries, in index order.
        public var entries: [StoredEntry]
        /// The new hard state (term, vote, commit), encoded; `nil`: unchanged.
        public var hardState: [UInt8]?
        /// A new snapshot; the log prefix it covers is removed.
        public var snapshot: StoredSnapshot?

        public init(truncateFrom: UInt64? = nil, entries: [StoredEntry] = [], hardState: [UInt8]? = nil, snapshot: StoredSnapshot? = nil) {
            self.truncateFrom = truncateFrom
            self.entries = entries
            self.hardState = hardState
            self.snapshot = snapshot
        }

        public var isEmpty: Bool { truncateFrom == nil && entries.isEmpty && hardState == nil && snapshot == nil }
    }

    /// What a restarting node reads back.
    public struct Loaded: Sendable {
        public let hardState: [UInt8]?
        public let snapshot: StoredSnapshot?
        /// Entries after the snapshot, in index order and contiguous.
        public let entries: [StoredEntry]
    }

    private let environment: Environment
    private let log: Database
    private let meta: Database
    private let snapshots: Database
    private static let hardStateKey = Array("hardState".utf8)
    private static let snapshotMetaKey = Array("snapshotMeta".utf8)
    private static let snapshotDataKey = Array("data".utf8)

    /// Opens (creating if needed) the Raft databases in `environment`.
    public init(environment: Environment) throws {
        self.environment = environment
        log = try environment.openDatabase("raft.log")
        meta = try environment.openDatabase("raft.meta")
        snapshots = try environment.openDatabase("raft.snapshot")
    }

    /// Makes `batch` durable in one transaction (one sync). A no-op for an empty batch.
    public func persist(_ batch: Batch) throws {
        guard !batch.isEmpty else { return }
        try environment.write { txn in try write(batch, in: txn) }
    }

    /// Writes `batch` in the caller's transaction (which must be on this store's environment),
    /// so that the caller can make other changes durable with the same sync.
    public func write(_ batch: Batch, in txn: borrowing WriteTransaction) throws {
        if let snapshot = batch.snapshot {
            var writer = ByteWriter(capacity: snapshot.metadata.count + 32)
            writer.write(snapshot.index)
            writer.write(snapshot.term)
            writer.write(lengthPrefixed: snapshot.metadata)
            try txn.put(meta, Self.snapshotMetaKey, writer.bytes)
            try txn.put(snapshots, Self.snapshotDataKey, snapshot.data)
            try txn.deleteRange(log, from: UInt64(0).bigEndianBytes, until: Self.keyAfter(snapshot.index))
        }
        if let from = batch.truncateFrom {
            try txn.deleteRange(log, from: from.bigEndianBytes, until: nil)
        }
        for entry in batch.entries {
            var value = entry.term.bigEndianBytes
            value.append(contentsOf: entry.bytes)
            try txn.put(log, entry.index.bigEndianBytes, value)
        }
        if let hardState = batch.hardState {
            try txn.put(meta, Self.hardStateKey, hardState)
        }
    }

    /// Removes log entries up to and including `index` (already covered by a snapshot).
    public func compact(through index: UInt64) throws {
        try environment.write { txn in
            try txn.deleteRange(log, from: UInt64(0).bigEndianBytes, until: Self.keyAfter(index))
        }
    }

    /// The key just after `index` (`nil`: the end, for `UInt64.max`), without overflowing.
    private static func keyAfter(_ index: UInt64) -> [UInt8]? {
        index < UInt64.max ? (index + 1).bigEndianBytes : nil
    }

    /// Calls `body` with each stored entry from `index` on, in order, while it returns `true`.
    public func scanEntries(from index: UInt64, _ body: (StoredEntry) throws -> Bool) throws {
        try environment.read { txn in
            try txn.scan(log, from: index.bigEndianBytes) { key, value in try body(Self.storedEntry(key: key, value: value)) }
        }
    }

    /// Whether nothing was ever persisted: no hard state, no snapshot, no entry.
    public func isEmpty() throws -> Bool {
        try environment.read { txn in
            try txn.get(meta, Self.hardStateKey) == nil && txn.get(meta, Self.snapshotMetaKey) == nil && txn.count(log) == 0
        }
    }

    /// Reads the durable state back; entries are checked to be contiguous after the snapshot.
    public func load() throws -> Loaded {
        try environment.read { txn in
            let hardState = try txn.get(meta, Self.hardStateKey)
            var snapshot: StoredSnapshot?
            if let metaBytes = try txn.get(meta, Self.snapshotMetaKey) {
                var reader = ByteReader(metaBytes)
                let index = try reader.readUInt64("snapshot.index")
                let term = try reader.readUInt64("snapshot.term")
                let metadata = try reader.readLengthPrefixed("snapshot.metadata")
                let data = try txn.get(snapshots, Self.snapshotDataKey) ?? []
                snapshot = StoredSnapshot(index: index, term: term, metadata: metadata, data: data)
            }
            var entries: [StoredEntry] = []
            // Corrupted state is a `DecodingError`, never a trap: an index or term past the bounds
            // of `Raft` (which also keeps `expected` from overflowing) or a gap.
            if let snapshot, !Raft.isValid(index: snapshot.index) || !Raft.isValid(term: snapshot.term) {
                throw DecodingError.malformed(field: "snapshot", reason: "index \(snapshot.index) or term \(snapshot.term) above the maximum")
            }
            var expected = (snapshot?.index ?? 0) + 1
            try txn.scan(log, from: expected.bigEndianBytes) { key, value in
                let entry = try Self.storedEntry(key: key, value: value)
                let index = entry.index, term = entry.term
                guard index == expected else {
                    throw DecodingError.malformed(field: "raft.log", reason: "gap in the log: expected index \(expected), found \(index)")
                }
                guard Raft.isValid(index: index), Raft.isValid(term: term) else {
                    throw DecodingError.malformed(field: "raft.log", reason: "entry \(index) with term \(term) above the maximum")
                }
                entries.append(entry)
                expected += 1
                return true
            }
            return Loaded(hardState: hardState, snapshot: snapshot, entries: entries)
        }
    }

    /// One `raft.log` record: key index, value term ‖ entry bytes.
    private static func storedEntry(key: [UInt8], value: [UInt8]) throws(DecodingError) -> StoredEntry {
        guard let index = UInt64(bigEndianBytes: key), value.count >= 8, let term = UInt64(bigEndianBytes: value.prefix(8)) else {
            throw DecodingError.malformed(field: "raft.log", reason: "entry with a malformed key or value")
        }
        return StoredEntry(index: index, term: term, bytes: Array(value.dropFirst(8)))
    }
}
