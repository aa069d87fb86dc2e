import CLMDB
import Glibc
import Synchronization

/// An LMDB environment: one directory holding `data.mdb` and `lock.mdb`, with named databases.
///
/// Many readers run concurrently with one writer. Transactions are scoped closures: a write
/// transaction commits when its closure returns and aborts when it throws; neither can escape its
/// closure, and since the closures are synchronous no transaction is ever held across an `await`
/// (LMDB write transactions belong to the thread that opened them).
///
/// The map grows by itself: when a write fills it, the transaction is aborted, the map is doubled
/// and the closure runs again. **A write closure may therefore run more than once**; it must not
/// have effects outside the transaction.
public final class Environment: Sendable {
    /// How an environment is opened.
    public struct Configuration: Sendable {
        /// The initial map size in bytes (the map grows on demand up to ``maximumMapSize``).
        public var mapSize: Int = 64 << 20
        /// The map never grows past this many bytes.
        public var maximumMapSize: Int = 1 << 40
        /// How many named databases may be opened.
        public var maximumDatabases: UInt32 = 32
        /// How many concurrent read transactions are allowed.
        public var maximumReaders: UInt32 = 126
        /// Whether each commit is synced to disk before it returns (`true`: durable on commit).
        /// `false` sets `MDB_NOSYNC` (tests and benchmarks only): a crash may lose recent commits.
        public var syncOnCommit: Bool = true
        /// Permissions of the files LMDB creates.
        public var fileMode: mode_t = 0o600
        /// Create the directory (mode 0700) when it does not exist.
        public var createDirectory: Bool = true

        public init() {}
    }

    /// Size and usage figures, from `mdb_env_info` and `mdb_env_stat`.
    public struct Info: Sendable {
        public let mapSize: Int
        public let lastPageNumber: Int
        public let pageSize: Int
        public let lastTransactionID: Int
        /// Saturates: a damaged file's meta page may claim any page number.
        public var usedBytes: Int {
            let pages = lastPageNumber.addingReportingOverflow(1)
            let bytes = pages.partialValue.multipliedReportingOverflow(by: pageSize)
            return pages.overflow || bytes.overflow ? .max : bytes.partialValue
        }
    }

    struct State: ~Copyable {
        var isClosed = false
        var mapSize: Int
        /// Open ``DetachedReadTransaction``s, by number: aborted by ``Environment/close()``.
        var detached: [UInt64: DetachedHandle] = [:]
        var nextDetached: UInt64 = 0
    }

    /// The path of the environment's directory.
    public let path: String
    public let configuration: Configuration
    // The env pointer is set once at init and freed once in close(); LMDB's env is thread-safe.
    nonisolated(unsafe) let env: OpaquePointer
    let resizeLock = ReadWriteLock()
    /// Held by every commit (see ``withTransaction(readOnly:deferMetaSync:_:)``); writers are
    /// serialised by LMDB anyway, so it is never contended for longer than a flag's change.
    let commitLock = Mutex(())
    let state: Mutex<State>

    /// Opens (creating if needed) the environment in directory `path`.
    ///
    /// Throws an ``LMDBError``: `invalid` for a file that is not an LMDB file, `truncatedCode` for a
    /// data file shorter than its metadata claims, `versionMismatch`, or an errno for I/O failures.
    public init(path: String, configuration: Configuration = .init()) throws(LMDBError) {
        self.path = path
        self.configuration = configuration
        if configuration.createDirectory {
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw LMDBError(code: errno, operation: "mkdir(\(path))")
            }
        }
        var envPointer: OpaquePointer?
        try LMDBError.check(mdb_env_create(&envPointer), "mdb_env_create")
        guard let env = envPointer else {
            throw LMDBError(code: ENOMEM, operation: "mdb_env_create")
        }
        var flags = UInt32(MDB_NOTLS)
        if !configuration.syncOnCommit { flags |= UInt32(MDB_NOSYNC) }
        do {
            try LMDBError.check(mdb_env_set_maxdbs(env, configuration.maximumDatabases), "mdb_env_set_maxdbs")
            try LMDBError.check(mdb_env_set_maxreaders(env, configuration.maximumReaders), "mdb_env_set_maxreaders")
            try LMDBError.check(mdb_env_set_mapsize(env, configuration.mapSize), "mdb_env_set_mapsize")
            try Self.checkDataFileIsPlausible(path: path)
            try LMDBError.check(mdb_env_open(env, path, flags, configuration.fileMode), "mdb_env_open(\(path))")
        } catch {
            mdb_env_close(env)
            throw error
        }
        self.env = env
        var info = MDB_envinfo()
        mdb_env_info(env, &info)
        self.state = Mutex(State(mapSize: info.me_mapsize))
        do {
            try checkDataFileCoversMetadata()
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    /// Closes the environment, waiting for running transactions. Later calls throw `closedCode`.
    public func close() {
        resizeLock.withExclusiveLock {
            let (wasOpen, detached) = state.withLock { state in
                defer {
                    state.isClosed = true
                    state.detached.removeAll()
                }
                return (!state.isClosed, Array(state.detached.values))
            }
            // No transaction body runs (they hold the lock shared): detached readers end here.
            for handle in detached { mdb_txn_abort(handle.txn) }
            if wasOpen { mdb_env_close(env) }
        }
    }

    /// Opens a named database (or the unnamed one for `nil`), creating it when `create` is true.
    public func openDatabase(_ name: String?, create: Bool = true) throws -> Database {
        try write { (txn: borrowing WriteTransaction) throws(LMDBError) -> Database in
            try txn.openDatabase(name, create: create)
        }
    }

    /// Runs `body` in a read-only transaction that sees one consistent snapshot of the data.
    public func read<R>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try withTransaction(readOnly: true) { (txn: OpaquePointer) throws -> (R, Bool) in
            let transaction = ReadTransaction(txn: txn)
            return (try body(transaction), false)
        }
    }

    /// What a write transaction's commit promises once it returns.
    public enum CommitDurability: Sendable {
        /// Durable (with ``Configuration/syncOnCommit``): the data and then the metadata page are
        /// flushed to disk before the commit returns, two device flushes.
        case durable
        /// Atomic, consistent and isolated, not durable: the data is flushed, the metadata page
        /// only with the next durable commit (`MDB_NOMETASYNC`), one device flush. A system crash
        /// before that may undo this transaction (never only part of it); a process crash loses
        /// nothing. For writes that can be redone after a crash from what is durable elsewhere.
        case atomic
    }

    /// Runs `body` in a read-write transaction, committed (and synced, by default) when it returns,
    /// aborted when it throws. `body` runs again if the map had to grow; see the type's discussion.
    ///
    /// - Parameter durability: what the commit promises (see ``CommitDurability``).
    @discardableResult
    public func write<R>(_ durability: CommitDurability = .durable, _ body: (borrowing WriteTransaction) throws -> R) throws -> R {
        try withTransaction(readOnly: false, deferMetaSync: durability == .atomic && configuration.syncOnCommit) {
            (txn: OpaquePointer) throws -> (R, Bool) in
            let transaction = WriteTransaction(txn: txn)
            return (try body(transaction), true)
        }
    }

    /// Whether commits skip the metadata page's sync now (only ever inside an atomic commit).
    var defersMetaSync: Bool {
        var flags: UInt32 = 0
        mdb_env_get_flags(env, &flags)
        return flags & UInt32(MDB_NOMETASYNC) != 0
    }

    /// Flushes the data to disk (useful after commits with `syncOnCommit == false`).
    public func sync() throws(LMDBError) {
        try resizeLock.withSharedLock { () throws(LMDBError) in
            try ensureOpen()
            try LMDBError.check(mdb_env_sync(env, 1), "mdb_env_sync")
        }
    }

    /// Current size and usage.
    public func info() throws(LMDBError) -> Info {
        try resizeLock.withSharedLock { () throws(LMDBError) -> Info in
            try ensureOpen()
            var info = MDB_envinfo()
            var stat = MDB_stat()
            try LMDBError.check(mdb_env_info(env, &info), "mdb_env_info")
            try LMDBError.check(mdb_env_stat(env, &stat), "mdb_env_stat")
            return Info(
                mapSize: info.me_mapsize, lastPageNumber: info.me_last_pgno,
                pageSize: Int(stat.ms_psize), lastTransactionID: info.me_last_txnid
            )
        }
    }

    // MARK: - Internals

    func ensureOpen() throws(LMDBError) {
        if state.withLock({ $0.isClosed }) {
            throw LMDBError(code: LMDBError.closedCode, operation: "transaction", message: "environment \(path) is closed")
        }
    }

    /// Begins a transaction, runs `body`, then commits (if it says so) or aborts; on `MDB_MAP_FULL`
    /// grows the map and retries, on `MDB_MAP_RESIZED` (another process grew it) adopts the new size.
    ///
    /// `deferMetaSync` sets `MDB_NOMETASYNC` for this transaction's commit only. LMDB 0.9 reads
    /// it from the environment at commit time (it ignores it in `mdb_txn_begin`'s flags), so it
    /// is set and cleared around the commit under ``commitLock``, which every commit holds:
    /// another thread's commit can neither run meanwhile nor start before the flag is cleared
    /// (LMDB releases its writer lock inside `mdb_txn_commit`).
    private func withTransaction<R>(
        readOnly: Bool,
        deferMetaSync: Bool = false,
        _ body: (OpaquePointer) throws -> (R, Bool)
    ) throws -> R {
        while true {
            var observedMapSize = 0
            do {
                return try resizeLock.withSharedLock { () throws -> R in
                    try ensureOpen()
                    observedMapSize = state.withLock { $0.mapSize }
                    var txnPointer: OpaquePointer?
                    let flags = readOnly ? UInt32(MDB_RDONLY) : 0
                    try LMDBError.check(mdb_txn_begin(env, nil, flags, &txnPointer), "mdb_txn_begin")
                    guard let txn = txnPointer else {
                        throw LMDBError(code: ENOMEM, operation: "mdb_txn_begin")
                    }
                    let result: R
                    let commit: Bool
                    do {
                        (result, commit) = try body(txn)
                    } catch {
                        mdb_txn_abort(txn)
                        throw error
                    }
                    if commit {
                        // mdb_txn_commit frees the transaction whether or not it succeeds.
                        let code = commitLock.withLock { _ in
                            guard deferMetaSync else { return mdb_txn_commit(txn) }
                            mdb_env_set_flags(env, UInt32(MDB_NOMETASYNC), 1)
                            defer { mdb_env_set_flags(env, UInt32(MDB_NOMETASYNC), 0) }
                            return mdb_txn_commit(txn)
                        }
                        try LMDBError.check(code, "mdb_txn_commit")
                    } else {
                        mdb_txn_abort(txn)
                    }
                    return result
                }
            } catch let error as LMDBError where error.code == LMDBError.mapFull {
                try grow(from: observedMapSize)
            } catch let error as LMDBError where error.code == LMDBError.mapResized {
                try adoptMapSize()
            }
        }
    }

    private func grow(from observed: Int) throws(LMDBError) {
        try resizeLock.withExclusiveLock { () throws(LMDBError) in
            try ensureOpen()
            let current = state.withLock { $0.mapSize }
            guard current == observed else { return }  // another writer already grew it
            guard current < configuration.maximumMapSize else {
                throw LMDBError(
                    code: LMDBError.mapLimitCode, operation: "grow map",
                    message: "map of \(path) is full at its configured maximum of \(configuration.maximumMapSize) bytes"
                )
            }
            let newSize = min(current * 2, configuration.maximumMapSize)
            try LMDBError.check(mdb_env_set_mapsize(env, newSize), "mdb_env_set_mapsize(\(newSize))")
            state.withLock { $0.mapSize = newSize }
        }
    }

    func adoptMapSize() throws(LMDBError) {
        try resizeLock.withExclusiveLock { () throws(LMDBError) in
            try ensureOpen()
            try LMDBError.check(mdb_env_set_mapsize(env, 0), "mdb_env_set_mapsize(0)")
            var info = MDB_envinfo()
            mdb_env_info(env, &info)
            state.withLock { $0.mapSize = info.me_mapsize }
        }
    }

    /// A data file too short to hold LMDB's two meta pages is not an LMDB file; LMDB would
    /// otherwise try to initialise over it.
    private static func checkDataFileIsPlausible(path: String) throws(LMDBError) {
        var st = stat()
        let dataPath = path + "/data.mdb"
        guard stat(dataPath, &st) == 0 else { return }  // absent: a new environment
        if st.st_size > 0 && st.st_size < 2 * 4096 {
            throw LMDBError(
                code: LMDBError.truncatedCode, operation: "mdb_env_open(\(path))",
                message: "\(dataPath) is \(st.st_size) bytes, too short for an LMDB file (truncated or not LMDB)"
            )
        }
    }

    /// Reading a page past the end of a truncated file would fault (SIGBUS) through the mmap, so
    /// the file must be at least as long as the last page the metadata references.
    private func checkDataFileCoversMetadata() throws(LMDBError) {
        let info = try info()
        var st = stat()
        let dataPath = path + "/data.mdb"
        guard stat(dataPath, &st) == 0 else {
            throw LMDBError(code: errno, operation: "stat(\(dataPath))")
        }
        if Int(st.st_size) < info.usedBytes {
            throw LMDBError(
                code: LMDBError.truncatedCode, operation: "mdb_env_open(\(path))",
                message: "\(dataPath) is \(st.st_size) bytes but its metadata references \(info.usedBytes) bytes: the file is truncated"
            )
        }
    }
}
