/// The read operations both transaction kinds offer (a write transaction sees its own writes).
public protocol TransactionReading: ~Copyable {
    /// The shared implementation; internal to the module.
    var reader: TransactionReader { get }
}

extension TransactionReading where Self: ~Copyable {
    /// The value stored under `key`, copied out; `nil` when absent.
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
}
