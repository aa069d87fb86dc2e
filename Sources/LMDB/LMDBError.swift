import CLMDB

/// An error from LMDB or from this wrapper, carrying the LMDB return code and its message.
///
/// Compare against the named codes, e.g. `catch let error as LMDBError where error.code == LMDBError.mapFull`.
public struct LMDBError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The LMDB (or errno) return code; negative codes in `-30799 ... -30780` are LMDB's own.
    public let code: Int32
    /// The library's message for ``code`` (`mdb_strerror`), or this wrapper's explanation.
    public let message: String
    /// What was being done when the error occurred, e.g. `mdb_env_open(/var/lib/p2pcore)`.
    public let operation: String

    public init(code: Int32, operation: String, message: String? = nil) {
        self.code = code
        self.operation = operation
        if let message {
            self.message = message
        } else if let cMessage = mdb_strerror(code) {
            self.message = String(cString: cMessage)
        } else {
            self.message = "unknown error \(code)"
        }
    }

    public var description: String { "LMDB error \(code) in \(operation): \(message)" }

    /// Only code and operation matter for equality; messages are informational.
    public static func == (lhs: LMDBError, rhs: LMDBError) -> Bool {
        lhs.code == rhs.code && lhs.operation == rhs.operation
    }

    // MARK: LMDB's return codes (lmdb.h)
    public static let keyExists: Int32 = MDB_KEYEXIST
    public static let notFound: Int32 = MDB_NOTFOUND
    public static let pageNotFound: Int32 = MDB_PAGE_NOTFOUND
    public static let corrupted: Int32 = MDB_CORRUPTED
    public static let panic: Int32 = MDB_PANIC
    public static let versionMismatch: Int32 = MDB_VERSION_MISMATCH
    public static let invalid: Int32 = MDB_INVALID
    public static let mapFull: Int32 = MDB_MAP_FULL
    public static let databasesFull: Int32 = MDB_DBS_FULL
    public static let readersFull: Int32 = MDB_READERS_FULL
    public static let tlsFull: Int32 = MDB_TLS_FULL
    public static let transactionFull: Int32 = MDB_TXN_FULL
    public static let cursorFull: Int32 = MDB_CURSOR_FULL
    public static let pageFull: Int32 = MDB_PAGE_FULL
    public static let mapResized: Int32 = MDB_MAP_RESIZED
    public static let incompatible: Int32 = MDB_INCOMPATIBLE
    public static let badReaderSlot: Int32 = MDB_BAD_RSLOT
    public static let badTransaction: Int32 = MDB_BAD_TXN
    public static let badValueSize: Int32 = MDB_BAD_VALSIZE
    public static let badDatabaseHandle: Int32 = MDB_BAD_DBI

    // MARK: This wrapper's own codes (positive, outside errno's usual range)
    /// The environment was closed.
    public static let closedCode: Int32 = 100_001
    /// The data file is shorter than its own metadata says: truncated or damaged.
    public static let truncatedCode: Int32 = 100_002
    /// The map cannot grow past ``Environment/Configuration/maximumMapSize``.
    public static let mapLimitCode: Int32 = 100_003

    static func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
        if rc != MDB_SUCCESS {
            throw LMDBError(code: rc, operation: operation())
        }
    }
}
