import Crypto
import LMDB
import P2PCore


extension MailboxStore {
    /// Version 4 added the expiry tables; version 3 the quota counters (per-sender items, the
    /// store-wide total); version 2 the server table. Older snapshots restore with the missing
    /// tables empty and the counters recomputed from their messages (none of their messages
    /// has an expiry).
    private static let snapshotMagic: [UInt8] = Array("P2PMBX4".utf8)
    private static let olderSnapshotTables: [[UInt8]: Int] = [Array("P2PMBX1".utf8): 5, Array("P2PMBX2".utf8): 6, Array("P2PMBX3".utf8): 8]

    /// The whole applied state (without the applied index) and the index/term it reflects,
    /// read from one consistent LMDB snapshot. Raft snapshots carry these bytes.
    /// Servers stream their state instead (``MailboxSnapshotReader``); this one allocation of
    /// the whole state is for tests, simulators and small stores.
    public func snapshot() throws -> (data: [UInt8], index: UInt64, term: UInt64) {
        try readState { txn, tables in
            let (appliedIndex, appliedTerm) = try Self.readApplied(txn, meta)
            var writer = ByteWriter(capacity: 1 << 16)
            for byte in Self.snapshotMagic { writer.write(byte) }
            for database in tables.all {
                var entries: [(key: [UInt8], value: [UInt8])] = []
                try txn.scan(database) { key, value in
                    entries.append((key, value))
                    return true
                }
                writer.write(UInt64(entries.count))
                for entry in entries {
                    writer.write(lengthPrefixed: entry.key)
                    writer.write(lengthPrefixed: entry.value)
                }
            }
            return (writer.bytes, appliedIndex, appliedTerm)
        }
    }

    /// Replaces the whole state with a snapshot's, applied through `index`/`term`.
    public func restore(snapshot data: [UInt8], index appliedIndex: UInt64, term appliedTerm: UInt64) throws {
        // Decode fully before touching the store: a bad snapshot must not leave a half-restored state.
        var reader = ByteReader(data)
        var magic: [UInt8] = []
        for _ in Self.snapshotMagic { magic.append(try reader.readUInt8("snapshot.magic")) }
        let storedTables: Int
        if magic == Self.snapshotMagic {
            storedTables = StateTables.count
        } else if let older = Self.olderSnapshotTables[magic] {
            storedTables = older
        } else {
            throw DecodingError.malformed(field: "snapshot.magic", reason: "not a mailbox snapshot")
        }
        var tables: [[(key: [UInt8], value: [UInt8])]] = []
        for _ in 0..<storedTables {
            let count = try reader.readUInt64("snapshot.count")
            var entries: [(key: [UInt8], value: [UInt8])] = []
            for _ in 0..<count {
                entries.append((try reader.readLengthPrefixed("snapshot.key"), try reader.readLengthPrefixed("snapshot.value")))
            }
            tables.append(entries)
        }
        try reader.expectEnd()
        while tables.count < StateTables.count { tables.append([]) }
        try environment.write { txn in
            try beginWrite(txn)
            for (database, entries) in zip(writeTables(txn).all, tables) {
                try txn.clear(database)
                for entry in entries { try txn.put(database, entry.key, entry.value, mode: .append) }
            }
            if storedTables < 8 { try recount(txn) }
            var writer = ByteWriter()
            writer.write(appliedIndex)
            writer.write(appliedTerm)
            try txn.put(meta, Self.appliedKey, writer.bytes)
        }
    }

    /// SHA-256 of the applied state, for comparing replicas: the hash of what ``snapshot()``
    /// returns, computed as the tables are walked (memory stays bounded whatever the state).
    public func digest() throws -> (digest: String, index: UInt64) {
        try readState { txn, tables in
            let (appliedIndex, _) = try Self.readApplied(txn, meta)
            var hasher = SHA256()
            var writer = ByteWriter(capacity: 1 << 16)
            for byte in Self.snapshotMagic { writer.write(byte) }
            for database in tables.all {
                writer.write(UInt64(try txn.count(database)))
                try txn.scan(database) { key, value in
                    writer.write(lengthPrefixed: key)
                    writer.write(lengthPrefixed: value)
                    if writer.bytes.count >= 1 << 16 {
                        hasher.update(data: writer.bytes)
                        writer = ByteWriter(capacity: 1 << 16)
                    }
                    return true
                }
            }
            hasher.update(data: writer.bytes)
            let hex = hasher.finalize().map { byte in
                let text = String(byte, radix: 16)
                return byte < 16 ? "0" + text : text
            }
            return (hex.joined(), appliedIndex)
        }
    }
}
