import CLMDB

/// A read-write transaction. Exists only inside ``Environment/write(_:)``, which commits it when
/// the closure returns and aborts it when the closure throws; it cannot be copied or stored.
public struct WriteTransaction: ~Copyable {
    let reader: TransactionReader
    private var txn: OpaquePointer { reader.txn }

    init(txn: OpaquePointer) {
        reader = TransactionReader(txn: txn)
    }

    /// The value stored under `key`, copied out; `nil` when absent (sees this transaction's writes).
    public func get(_ database: Database, _ key: [UInt8]) throws(LMDBError) -> [UInt8]? {
        try reader.get(database, key)
    }

    /// Calls `body` with the value under `key` without copying it (valid only during `body`).
    public func withValue<R>(
        _ database: Database, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws(LMDBError) -> R
    ) throws(LMDBError) -> R {
        try reader.withValue(database, key, body)
    }

    /// The number of entries in `database`.
    public func count(_ database: Database) throws(LMDBError) -> Int {
        try reader.count(database)
    }

    /// Runs `body` with a cursor over `database`, closed when `body` returns.
    public func withCursor<R>(_ database: Database, _ body: (borrowing Cursor) throws -> R) throws -> R {
        try reader.withCursor(database, body)
    }

    /// Visits entries in key order from the first key `>= start` while keys are `< end`;
    /// `body` returns `false` to stop.
    public func scan(
        _ database: Database, from start: [UInt8]? = nil, until end: [UInt8]? = nil,
        _ body: (_ key: [UInt8], _ value: [UInt8]) throws -> Bool
    ) throws {
        try reader.scan(database, from: start, until: end, body)
    }

    /// How ``put(_:_:_:mode:)`` treats an existing key.
    public enum PutMode: Sendable {
        /// Replace any existing value.
        case upsert
        /// Fail with `keyExists` if the key is present.
        case insertOnly
        /// The key sorts after every existing key (fast bulk load); fails with `keyExists` otherwise.
        case append
    }

    /// Opens (and creates, if asked) a named database within this transaction.
    public func openDatabase(_ name: String?, create: Bool) throws(LMDBError) -> Database {
        var dbi: MDB_dbi = 0
        let flags = create ? UInt32(MDB_CREATE) : 0
        try LMDBError.check(mdb_dbi_open(txn, name, flags, &dbi), "mdb_dbi_open(\(name ?? "main"))")
        return Database(name: name, dbi: dbi)
    }

    /// Stores `value` under `key`.
    public func put(_ database: Database, _ key: [UInt8], _ value: [UInt8], mode: PutMode = .upsert) throws(LMDBError) {
        let flags: UInt32 = switch mode {
        case .upsert: 0
        case .insertOnly: UInt32(MDB_NOOVERWRITE)
        case .append: UInt32(MDB_APPEND)
        }
        let rc = key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                var mdbKey = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
                var mdbValue = MDB_val(mv_size: valueBytes.count, mv_data: UnsafeMutableRawPointer(mutating: valueBytes.baseAddress))
                return mdb_put(txn, database.dbi, &mdbKey, &mdbValue, flags)
            }
        }
        try LMDBError.check(rc, "mdb_put(\(database.name ?? "main"))")
    }

    /// Removes `key`; returns whether it was present.
    @discardableResult
    public func delete(_ database: Database, _ key: [UInt8]) throws(LMDBError) -> Bool {
        let rc = key.withUnsafeBytes { keyBytes in
            var mdbKey = MDB_val(mv_size: keyBytes.count, mv_data: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            return mdb_del(txn, database.dbi, &mdbKey, nil)
        }
        if rc == MDB_NOTFOUND { return false }
        try LMDBError.check(rc, "mdb_del(\(database.name ?? "main"))")
        return true
    }

    /// Removes every entry of `database` (the database itself stays).
    public func clear(_ database: Database) throws(LMDBError) {
        try LMDBError.check(mdb_drop(txn, database.dbi, 0), "mdb_drop(\(database.name ?? "main"))")
    }

    /// Removes entries with keys in `[start, end)` (`end == nil`: to the last key); returns how many.
    @discardableResult
    public func deleteRange(_ database: Database, from start: [UInt8], until end: [UInt8]?) throws -> Int {
        try withCursor(database) { (cursor: borrowing Cursor) throws(LMDBError) -> Int in
            var removed = 0
            var entry = try cursor.seek(atLeast: start)
            while let current = entry {
                if let end, !current.key.lexicographicallyPrecedes(end) { break }
                try cursor.deleteCurrent()
                removed += 1
                entry = try cursor.current()
            }
            return removed
        }
    }
}
