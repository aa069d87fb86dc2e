import CLMDB

/// Read operations shared by ``ReadTransaction`` and ``WriteTransaction``.
public protocol TransactionReading: ~Copyable {
    /// The underlying `MDB_txn`; valid only inside the transaction's closure.
    var txn: OpaquePointer { get }
}

extension TransactionReading where Self: ~Copyable {
    /// The value stored under `key`, copied out; `nil` when absent.
    public func get(_ database: Database, _ key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        try withValue(database, key) { $0.map { Array($0) } }
    }

    /// Calls `body` with the value stored under `key` (without copying it), or `nil` when absent.
    /// The buffer points into the map and is valid only during `body`.
    public func withValue<R>(
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
    public func count(_ database: Database) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try LMDBError.check(mdb_stat(txn, database.dbi, &stat), "mdb_stat(\(database.name ?? "main"))")
        return stat.ms_entries
    }

    /// Runs `body` with a cursor over `database`; the cursor is closed when `body` returns.
    public func withCursor<R>(
        _ database: Database,
        _ body: (borrowing Cursor) throws -> R
    ) throws -> R {
        var cursorPointer: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, database.dbi, &cursorPointer), "mdb_cursor_open(\(database.name ?? "main"))")
        guard let cursor = cursorPointer else {
            throw LMDBError(code: LMDBError.badTransaction, operation: "mdb_cursor_open")
        }
        defer { mdb_cursor_close(cursor) }
        return try body(Cursor(cursor: cursor, databaseName: database.name))
    }

    /// Visits entries of `database` in key order, from the first key `>= start` (or the first key)
    /// while keys are `< end` (or to the last key); `body` returns `false` to stop early.
    public func scan(
        _ database: Database, from start: [UInt8]? = nil, until end: [UInt8]? = nil,
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        try withCursor(database) { (cursor: borrowing Cursor) throws in
            var entry = try start.map { key throws(LMDBError) in try cursor.seek(atLeast: key) } ?? cursor.first()
            while let current = entry {
                if let end, !current.key.lexicographicallyPrecedes(end) { return }
                guard try body(current.key, current.value) else { return }
                entry = try cursor.next()
            }
        }
    }
}

/// A read-only transaction: a consistent snapshot of the environment. Exists only inside
/// ``Environment/read(_:)``; it cannot be copied or stored.
public struct ReadTransaction: ~Copyable, TransactionReading {
    public let txn: OpaquePointer
}
