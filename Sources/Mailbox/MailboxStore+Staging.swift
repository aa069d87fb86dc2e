import LMDB
import P2PCore

/// Why a streamed chunk was refused.
public enum MailboxStagingError: Error, Equatable, Sendable {
    /// The chunk does not decode, names a table that does not exist, has a key LMDB cannot
    /// hold, or its records are not in order after what was staged before.
    case malformed(String)
}

/// How far a stream has been staged: the last record written. Records must come in table order
/// and, within a table, in strictly increasing key order, as ``MailboxSnapshotReader`` reads them.
public struct MailboxStagingPosition: Sendable, Equatable {
    var table = 0
    var lastKey: [UInt8]?
    /// Records staged so far.
    public private(set) var records: UInt64 = 0

    public init() {}

    /// The records of `chunk`, checked to follow this position; the position moves past them.
    mutating func decode(_ chunk: [UInt8]) throws(MailboxStagingError) -> [(table: Int, key: [UInt8], value: [UInt8])] {
        var reader = ByteReader(chunk)
        var decoded: [(table: Int, key: [UInt8], value: [UInt8])] = []
        var next = self
        do {
            while reader.remaining > 0 {
                let table = Int(try reader.readUInt8("staging.table"))
                let key = try reader.readLengthPrefixed("staging.key")
                let value = try reader.readLengthPrefixed("staging.value")
                guard table < StateTables.count else { throw MailboxStagingError.malformed("table \(table) does not exist") }
                guard (1...MailboxStore.maximumKeyLength).contains(key.count) else {
                    throw MailboxStagingError.malformed("a key of \(key.count) bytes")
                }
                if table == next.table, let last = next.lastKey, !last.lexicographicallyPrecedes(key) {
                    throw MailboxStagingError.malformed("keys out of order in table \(table)")
                }
                guard table >= next.table else { throw MailboxStagingError.malformed("table \(table) after table \(next.table)") }
                next.table = table
                next.lastKey = key
                next.records += 1
                decoded.append((table, key, value))
            }
        } catch let error as DecodingError {
            throw .malformed("\(error)")
        } catch let error as MailboxStagingError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
        self = next
        return decoded
    }
}

/// The receiving side of a streamed snapshot: chunks are written into the staging tables (the
/// set that is not live, see ``StateTables``) in small transactions, and installing flips the
/// live set in one tiny transaction. Readers see the old state until then, the new one after.
extension MailboxStore {
    /// The longest key LMDB holds (its default `MDB_MAXKEYSIZE`).
    static let maximumKeyLength = 511

    /// Empties the staging tables: before a new stream (a stream that was interrupted left
    /// records there), and after an install (the old state). `mdb_drop` frees the pages
    /// without reading the leaves, so this is quick whatever the size.
    public func clearStaging() throws {
        try environment.write { txn in
            let staging = tableSets[1 - (try liveSet(txn))]
            for database in staging.all { try txn.clear(database) }
        }
    }

    /// Writes one chunk's records into the staging tables, in one transaction, after checking
    /// the whole chunk (``MailboxStagingError``: nothing of a refused chunk is written).
    public func stage(_ chunk: [UInt8], position: inout MailboxStagingPosition) throws {
        var next = position
        let records = try next.decode(chunk)
        try environment.write { txn in
            let staging = tableSets[1 - (try liveSet(txn))].all
            for record in records { try txn.put(staging[record.table], record.key, record.value, mode: .append) }
        }
        position = next
    }

    /// Makes the staged state live, applied through `index`/`term`, in the caller's transaction
    /// (the one that persists the Raft snapshot's metadata: no crash can separate the two).
    public func installStaged(index appliedIndex: UInt64, term appliedTerm: UInt64, in txn: borrowing WriteTransaction) throws {
        let live = try liveSet(txn)
        try txn.put(meta, Self.activeKey, [UInt8(1 - live)])
        var writer = ByteWriter()
        writer.write(appliedIndex)
        writer.write(appliedTerm)
        try txn.put(meta, Self.appliedKey, writer.bytes)
        try beginWrite(txn)
    }
}
