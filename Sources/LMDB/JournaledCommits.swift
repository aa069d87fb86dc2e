import Synchronization

/// LMDB transactions made durable by a ``Journal`` instead of by LMDB's own two flushes.
///
/// ``write(_:whenDurable:)`` runs a transaction whose body returns, beside its result, the
/// journal record that redoes it; the record is appended (one write, one device flush) before
/// the transaction commits *atomically* (`Environment.CommitDurability.atomic`, one flush more,
/// after the caller was told), and the transaction records the record's number in the table
/// `name`. A system crash may undo such commits; ``recover(_:)`` redoes, at start-up, the records
/// LMDB lacks. Whenever LMDB is synced (past ``checkpointBytes`` of journal, and at
/// ``checkpoint()``) the journal is emptied.
///
/// A record must redo exactly what its transaction did when applied to the state LMDB held
/// before it: transactions are numbered in commit order, and they are redone in that order.
public final class JournaledCommits: Sendable {
    /// Why a journaled commit or the recovery failed.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The journal holds a record that neither follows nor precedes what LMDB holds: the
        /// journal or the LMDB file is damaged, or they come from different directories.
        case mismatch(path: String, applied: UInt64, found: UInt64)
        /// A record was made durable but its transaction could not be committed to LMDB: no
        /// more journaled commits until the journal is recovered (at the next start).
        case journalAhead(path: String)
        /// A whole record (its checksum holds) too short to carry its number: not written by
        /// this type.
        case malformedRecord(path: String)
        /// LMDB claims the last possible record number: its file is damaged.
        case numbersExhausted(path: String)

        public var description: String {
            switch self {
            case .mismatch(let path, let applied, let found):
                "journal \(path) does not follow its LMDB state: LMDB holds through record \(applied), the journal starts at \(found)"
            case .journalAhead(let path):
                "journal \(path) holds a transaction LMDB could not commit; restart to recover it"
            case .malformedRecord(let path):
                "journal \(path) holds a record without a number"
            case .numbersExhausted(let path):
                "the LMDB state beside journal \(path) claims the last possible record number: it is damaged"
            }
        }
    }

    /// The journal's size beyond which LMDB is synced and the journal emptied.
    public static let checkpointBytes = 1 << 20

    public let journal: Journal
    private let environment: Environment
    private let table: Database
    /// The number of the last record (0: none yet); `nil` once a record is ahead of LMDB.
    private let lastRecord: Mutex<UInt64?>
    private static let appliedKey = Array("applied".utf8)

    /// Opens the journal at `path` beside `environment`, whose table `name` holds the number of
    /// the last record LMDB has. Call ``recover(_:)`` before the first write.
    /// The journal flushes its appends only if `environment` syncs its commits.
    public init(environment: Environment, journalPath path: String, table name: String) throws {
        self.environment = environment
        journal = try Journal(path: path, syncs: environment.configuration.syncOnCommit)
        table = try environment.openDatabase(name)
        lastRecord = Mutex(nil)
    }

    /// Redoes, in order and in one durable transaction, the records LMDB lacks (`redo` gets each
    /// one's bytes), then empties the journal.
    public func recover(_ redo: ([UInt8], borrowing WriteTransaction) throws -> Void) throws {
        try lastRecord.withLock { last in
            var applied = try environment.read { txn in try txn.get(table, Self.appliedKey).flatMap { UInt64(bigEndianBytes: $0) } ?? 0 }
            var pending: [(UInt64, ArraySlice<UInt8>)] = []
            for record in journal.recovered {
                guard record.count >= 8, let number = UInt64(bigEndianBytes: record.prefix(8)) else {
                    throw Failure.malformedRecord(path: journal.path)
                }
                if number <= applied + UInt64(pending.count) { continue }
                guard number == applied + UInt64(pending.count) + 1 else {
                    throw Failure.mismatch(path: journal.path, applied: applied + UInt64(pending.count), found: number)
                }
                pending.append((number, record.dropFirst(8)))
            }
            if let final = pending.last?.0 {
                try environment.write { txn in
                    for (_, bytes) in pending { try redo(Array(bytes), txn) }
                    try txn.put(table, Self.appliedKey, final.bigEndianBytes)
                }
                applied = final
            }
            try journal.reset()
            last = applied
        }
    }

    /// Runs `body` in a write transaction, appends the record it returns to the journal (durable
    /// once this returns), calls `whenDurable` with its result, and then commits the transaction
    /// atomically. `body` runs again if LMDB's map had to grow (the record is appended once).
    /// Transactions that need no journal go straight to the environment: they are serialised
    /// with these by LMDB's writer lock, and a durable one makes everything before it durable.
    ///
    /// If the commit fails after the record was appended, this throws, the record stays durable
    /// (and is redone at the next ``recover(_:)``) and later journaled writes throw
    /// ``Failure/journalAhead(path:)``.
    public func write<R: Sendable>(
        _ body: (borrowing WriteTransaction) throws -> (R, record: [UInt8]),
        whenDurable: (R) -> Void = { _ in }
    ) throws -> R {
        try lastRecord.withLock { last in
            guard let previous = last else { throw Failure.journalAhead(path: journal.path) }
            guard previous < .max else { throw Failure.numbersExhausted(path: journal.path) }
            let number = previous + 1
            var appended = false
            do {
                let result = try environment.write(.atomic) { txn -> R in
                    let (result, record) = try body(txn)
                    try txn.put(table, Self.appliedKey, number.bigEndianBytes)
                    if !appended {
                        try journal.append(number.bigEndianBytes + record)
                        appended = true
                        whenDurable(result)
                    }
                    return result
                }
                last = number
                if journal.size >= Self.checkpointBytes {
                    // A failure leaves the journal as it is: it is tried again after the next commit.
                    try? syncAndEmpty()
                }
                return result
            } catch {
                if appended { last = nil }
                throw error
            }
        }
    }

    /// Syncs LMDB and empties the journal (a clean stop leaves no journal to redo).
    public func checkpoint() throws {
        try lastRecord.withLock { last in
            guard last != nil else { return }
            try syncAndEmpty()
        }
    }

    /// Makes LMDB durable (every atomic commit with it), after which the journal holds nothing
    /// LMDB lacks.
    private func syncAndEmpty() throws {
        try environment.sync()
        try journal.reset()
    }
}
