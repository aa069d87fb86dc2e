import LMDB
import P2PCore
import Synchronization

/// Reads the applied mailbox state in chunks, all from one consistent LMDB snapshot: what a
/// server streams to another that needs a Raft snapshot (``MailboxStore/stage(_:position:)``
/// writes the chunks on the other side).
///
/// A chunk is a run of records `table: UInt8, key, value` (key and value length-prefixed), in
/// table order (``StateTables/all``) and, within a table, in key order. Only one chunk is in
/// memory at a time; the snapshot stays open until ``end()``, and LMDB cannot reuse pages
/// while it does, so end it as soon as the stream is over.
public final class MailboxSnapshotReader: Sendable {
    /// The applied index and term the state read reflects.
    public let index: UInt64
    public let term: UInt64
    private let transaction: DetachedReadTransaction
    private let tables: [Database]
    private let position = Mutex(Position())

    private struct Position: Sendable {
        var table = 0
        var lastKey: [UInt8]?
        var records: UInt64 = 0
    }

    /// Opens a snapshot of `store` as of now.
    public init(_ store: MailboxStore) throws {
        transaction = try store.environment.beginDetachedRead()
        do {
            (index, term, tables) = try transaction.read { txn in
                let (index, term) = try MailboxStore.readApplied(txn, store.meta)
                return (index, term, store.tableSets[try store.liveSet(txn)].all)
            }
        } catch {
            transaction.end()
            throw error
        }
    }

    /// The records read so far.
    public var recordsRead: UInt64 { position.withLock { $0.records } }

    /// The next chunk: records of about `maxBytes` in all (at least one record while any are
    /// left, so a chunk exceeds `maxBytes` only by a record larger than that); `isLast` once
    /// the state is exhausted (the last chunk may be empty).
    public func nextChunk(maxBytes: Int) throws -> (records: [UInt8], isLast: Bool) {
        let start = position.withLock { $0 }
        let tables = self.tables
        let (bytes, end) = try transaction.read { txn in
            var writer = ByteWriter(capacity: maxBytes + 1024)
            var position = start
            while position.table < tables.count {
                let full = try txn.withCursor(tables[position.table]) { cursor -> Bool in
                    var entry = try position.lastKey.map { try cursor.seek(atLeast: $0 + [0]) } ?? cursor.first()
                    while let current = entry {
                        let size = 9 + current.key.count + current.value.count
                        if !writer.bytes.isEmpty && writer.bytes.count + size > maxBytes { return true }
                        writer.write(UInt8(position.table))
                        writer.write(lengthPrefixed: current.key)
                        writer.write(lengthPrefixed: current.value)
                        position.lastKey = current.key
                        position.records += 1
                        entry = try cursor.next()
                    }
                    return false
                }
                if full { break }
                position.table += 1
                position.lastKey = nil
            }
            return (writer.bytes, position)
        }
        position.withLock { $0 = end }
        return (bytes, end.table >= tables.count)
    }

    /// Ends the snapshot (idempotent).
    public func end() {
        transaction.end()
    }
}
