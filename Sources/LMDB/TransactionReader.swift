import CLMDB

/// The read operations shared by ``ReadTransaction`` and ``WriteTransaction``.
///
/// Public only so that the transaction types can expose it through ``TransactionReading``; its
/// operations are internal. Deliberately not `Sendable`: a transaction belongs to one thread.
public struct TransactionReader {
    /// The underlying `MDB_txn`; valid only inside the transaction's closure.
    let txn: OpaquePointer

    /// The value stored under `key`, copied out; `nil` when absent.
    func get(_ database: Database, _ key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        try withValue(database, key) { $0.map { Array($0) } }
    }

    /// Calls `body` with the value stored under `key` (without copying it), or `nil` when absent.
    /// The buffer points into the map and is valid only during `body`.
    func withValue<R>(
        _ database: Database, _ key: [UInt8],
        _ body: (UnsafeRawBufferPointer?) throws(LMDBError) -> R
    ) throws(LMDBError) -> R {
        var value = MDB_val()
        let rc = key.withUnsafeBytes { keyBytes in
            var mdbKey = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_get(txn, database.dbi, &mdbKey, &value)
        }
        if rc == MDB_NOTFOUND { return try body(nil) }
        try LMDBError.check(rc, "mdb_get(\(database.name ?? "main"))")
        return try body(UnsafeRawBufferPointer(start: value.mv_data, count: value.mv_size))
    }

    /// The number of entries in `database`.
    func count(_ database: Database) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try LMDBError.check(mdb_stat(txn, database.dbi, &stat), "mdb_stat(\(database.name ?? "main"))")
        return stat.ms_entries
    }

    /// Runs `body` with a cursor over `database`; the cursor is closed when `body` returns.
    func withCursor<R>(
        _ database: Database,
        _ body: (borrowing Cursor) throws -> R
    ) throws -> R {
        var cursorPointer: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, database.dbi, &cursorPointer), "mdb_cursor_open(\(database.name ?? "main"))")
        guard let cursor = cursorPointer else {
            throw LMDBError(code: LMDBError.badTransaction, operation: "mdb_cursor_open")
        }
        defer { mdb_cursor_close(cursor) }
        let handle = Cursor(cursor: cursor, databaseName: database.name)
        return try body(handle)
    }

    /// Visits entries of `database` in key order, from the first key `>= start` (or the first key)
    /// while keys are `< end` (or to the last key); `body` returns `false` to stop early.
    func scan(
        _ database: Database, from start: [UInt8]? = nil, until end: [UInt8]? = nil,
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        try withCursor(database) { (cursor: borrowing Cursor) throws in
            var entry: Cursor.Entry?
            if let start {
                entry = try cursor.seek(atLeast: start)
            } else {
                entry = try cursor.first()
            }
            while let current = entry {
                if let end, !current.key.lexicographicallyPrecedes(end) { return }
                guard try body(current.key, current.value) else { return }
                entry = try cursor.next()
            }
        }
    }
}


@available(*, unavailable)
extension TransactionReader: Sendable {}
