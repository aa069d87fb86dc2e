import CLMDB
import Glibc
import Synchronization

/// A read-only transaction that outlives a closure: one consistent snapshot of the environment,
/// read piece by piece (e.g. a state streamed to another server in chunks) from any thread, one
/// piece at a time (the environment uses `MDB_NOTLS`).
///
/// Each ``read(_:)`` holds the environment's transaction lock only while it runs, and cursors
/// never outlive it, so the map may grow between two reads. While the transaction is open,
/// LMDB cannot reuse the pages of the snapshot it sees: the file grows with every write. Call
/// ``end()`` as soon as the snapshot is no longer needed (also done when the value goes away and
/// when the environment closes).
public final class DetachedReadTransaction: Sendable {
    private let environment: Environment
    private let number: UInt64
    /// Serialises reads: one piece at a time, as LMDB asks of a transaction.
    private let serial = ReadWriteLock()

    init(environment: Environment, number: UInt64) {
        self.environment = environment
        self.number = number
    }

    deinit {
        end()
    }

    /// Runs `body` in the transaction (always the same snapshot). Throws `badTransaction` once
    /// the transaction ended, `closedCode` once the environment closed.
    public func read<R: Sendable>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try serial.withExclusiveLock { () throws -> R in try readLocked(body) }
    }

    private func readLocked<R: Sendable>(_ body: (borrowing ReadTransaction) throws -> R) throws -> R {
        try environment.resizeLock.withSharedLock { () throws -> R in
            try environment.ensureOpen()
            guard let txn = environment.state.withLock({ $0.detached[number] }) else {
                throw LMDBError(code: LMDBError.badTransaction, operation: "detached read", message: "the transaction has ended")
            }
            let transaction = ReadTransaction(txn: txn.txn)
            return try body(transaction)
        }
    }

    /// Ends the transaction (idempotent), releasing its snapshot.
    public func end() {
        serial.withExclusiveLock {
            environment.resizeLock.withSharedLock {
                let txn = environment.state.withLock { $0.detached.removeValue(forKey: number) }
                if let txn { mdb_txn_abort(txn.txn) }
            }
        }
    }
}

extension Environment {
    /// Begins a ``DetachedReadTransaction``: a snapshot of the data as of now, read later in pieces.
    public func beginDetachedRead() throws(LMDBError) -> DetachedReadTransaction {
        var number = try beginDetached()
        while number == nil {
            try adoptMapSize()  // another process grew the map
            number = try beginDetached()
        }
        return DetachedReadTransaction(environment: self, number: number ?? 0)
    }

    /// The number of a new detached read transaction; `nil` if the map must be adopted first.
    private func beginDetached() throws(LMDBError) -> UInt64? {
        resizeLock.lockShared()
        defer { resizeLock.unlock() }
        try ensureOpen()
        var txnPointer: OpaquePointer?
        let rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txnPointer)
        if rc == MDB_MAP_RESIZED { return nil }
        try LMDBError.check(rc, "mdb_txn_begin")
        guard let txn = txnPointer else { throw LMDBError(code: ENOMEM, operation: "mdb_txn_begin") }
        return state.withLock { state in
            defer { state.nextDetached += 1 }
            state.detached[state.nextDetached] = DetachedHandle(txn: txn)
            return state.nextDetached
        }
    }
}

/// An open detached transaction's `MDB_txn`, kept by the environment.
struct DetachedHandle: @unchecked Sendable {
    // @unchecked: the pointer is only used under the transaction's own serial lock (reads, end)
    // or the environment's exclusive lock (close), never concurrently.
    let txn: OpaquePointer
}
