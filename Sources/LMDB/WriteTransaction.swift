import CLMDB

/// A read-write transaction. Exists only inside ``Environment/write(_:)``, which commits it when
/// the closure returns and aborts it when the closure throws; it cannot be copied or stored.
public struct WriteTransaction: ~Copyable, TransactionReading {
    public let reader: TransactionReader
    private var txn: OpaquePointer { reader.txn }

    init(txn: OpaquePointer) {
        reader = TransactionReader(txn: txn)
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
