import CLMDB
import Glibc

/// A position in a database's key order, for ordered range scans. Exists only inside
/// ``TransactionReading/withCursor(_:_:)``.
public struct Cursor: ~Copyable {
    /// One key/value pair, copied out of the map.
    public struct Entry: Sendable, Equatable {
        public let key: [UInt8]
        public let value: [UInt8]
    }

    let cursor: OpaquePointer
    let databaseName: String?

    /// The first entry, or `nil` if the database is empty.
    public func first() throws(LMDBError) -> Entry? { try move(MDB_FIRST) }
    /// The last entry, or `nil` if the database is empty.
    public func last() throws(LMDBError) -> Entry? { try move(MDB_LAST) }
    /// The entry after the current one, or `nil` at the end.
    public func next() throws(LMDBError) -> Entry? { try move(MDB_NEXT) }
    /// The entry before the current one, or `nil` at the start.
    public func previous() throws(LMDBError) -> Entry? { try move(MDB_PREV) }
    /// The entry at the cursor, or `nil` if the cursor is past the end.
    public func current() throws(LMDBError) -> Entry? { try move(MDB_GET_CURRENT) }

    /// Positions at the first key `>= key`; returns that entry or `nil` if there is none.
    public func seek(atLeast key: [UInt8]) throws(LMDBError) -> Entry? {
        var mdbValue = MDB_val()
        var foundKey = MDB_val()
        let rc = key.withUnsafeBytes { keyBytes in
            foundKey = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_cursor_get(cursor, &foundKey, &mdbValue, MDB_SET_RANGE)
        }
        return try entry(rc, foundKey, mdbValue, MDB_SET_RANGE)
    }

    /// Deletes the entry at the cursor (write transactions only); the cursor then sits on the next one.
    public func deleteCurrent() throws(LMDBError) {
        try LMDBError.check(mdb_cursor_del(cursor, 0), "mdb_cursor_del(\(databaseName ?? "main"))")
    }

    private func move(_ op: MDB_cursor_op) throws(LMDBError) -> Entry? {
        var key = MDB_val()
        var value = MDB_val()
        let rc = mdb_cursor_get(cursor, &key, &value, op)
        return try entry(rc, key, value, op)
    }

    private func entry(_ rc: Int32, _ key: MDB_val, _ value: MDB_val, _ op: MDB_cursor_op) throws(LMDBError) -> Entry? {
        // EINVAL from MDB_GET_CURRENT means the cursor is past the end (e.g. after deleting the last entry).
        if rc == MDB_NOTFOUND || (rc == EINVAL && op == MDB_GET_CURRENT) { return nil }
        // The operation's name only when there is an error: describing a C enum is reflection,
        // which cost a fifth of a server's CPU on every cursor step of a mailbox scan.
        try LMDBError.check(rc, "mdb_cursor_get(\(databaseName ?? "main"), \(op))")
        return Entry(
            key: Array(UnsafeRawBufferPointer(start: key.mv_data, count: key.mv_size)),
            value: Array(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
        )
    }
}
