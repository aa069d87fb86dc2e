import Crypto
import LMDB
import MessageModel
import P2PCore
import Synchronization

/// The replicated mailbox state machine, stored in LMDB.
///
/// Committed Raft entries are applied in order with ``apply(_:)``; each batch is one LMDB write
/// transaction that also records the applied index, so after a crash the state and the index
/// always agree and re-applying an entry at or below the applied index is a no-op.
///
/// Layout (all keys big-endian so cursors walk them in order). The state tables come in two
/// sets (``StateTables``): `mbx.*` below and `mbx.b.*`, one live, the other staging a snapshot
/// streamed from another server.
/// - `mbx.meta`      `applied` → index, term; `active` → which set is live (absent: `mbx.*`)
/// - `mbx.clients`   client id → ``ClientRecord``
/// - `mbx.boxes`     recipient → next arrival number, message count, payload bytes, skip count
/// - `mbx.senders`   recipient ‖ sender → items (messages and skips) of that sender in that mailbox
/// - `mbx.totals`    `bytes` → what all mailboxes hold (payloads plus an overhead per record)
/// - `mbx.messages`  recipient ‖ arrival → ``MailMessage`` (the per-client FIFO)
/// - `mbx.index`     recipient ‖ sender ‖ sequence → arrival (dedup and acknowledge lookup)
/// - `mbx.delivered` recipient ‖ sender → highest acknowledged sequence
/// - `mbx.servers`   server id → the address other servers dial it at; server id ‖ 0xFF →
///                   (nothing): an operator retired the server (its own registration is refused)
/// - `mbx.expired`   recipient ‖ sender ‖ sequence → expiry, of every message that expired (so
///                   that a retried enqueue learns `expired`, not `alreadyDelivered`)
/// - `mbx.expiries`  expiry ‖ recipient ‖ sender ‖ sequence → (nothing): unclaimed messages with
///                   an expiry, in order of expiry (what the leader's sweep reads)
public final class MailboxStore: Sendable {
    /// One committed log entry to apply; `command == nil` for entries that carry no mailbox
    /// command (Raft no-ops, membership changes), which only advance the applied index.
    public struct Entry: Sendable {
        public let index: UInt64
        public let term: UInt64
        public let command: [UInt8]?

        public init(index: UInt64, term: UInt64, command: [UInt8]?) {
            self.index = index
            self.term = term
            self.command = command
        }
    }

    public let limits: MailboxLimits
    let environment: Environment
    let meta: Database
    /// The two sets of state tables: `mbx.*` (the only one before snapshots were streamed) and
    /// `mbx.b.*`. `mbx.meta` `active` names the live one (absent: the first).
    let tableSets: [StateTables]
    /// The live set as the write transaction under way resolved it (``beginWrite(_:)``). LMDB
    /// runs one write transaction at a time, and each resolves the set when it starts, so this
    /// is always that transaction's. The accessors below take the write transaction, so that no
    /// read path can use them: readers resolve the live set in their own transaction
    /// (``readState(_:)``).
    private let writing = Mutex(0)
    func writeTables(_ txn: borrowing WriteTransaction) -> StateTables { tableSets[writing.withLock { $0 }] }
    func clientsDB(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).clients }
    func boxes(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).boxes }
    func messagesDB(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).messages }
    func index(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).index }
    func delivered(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).delivered }
    func serversDB(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).servers }
    func sendersDB(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).senders }
    func totalsDB(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).totals }
    func expiredDB(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).expired }
    func expiriesDB(_ txn: borrowing WriteTransaction) -> Database { writeTables(txn).expiries }
    static let appliedKey = Array("applied".utf8)

    /// One applied command entry: the command as decoded (once, here: `nil` for bytes that are
    /// not a command) and its outcome.
    public struct Applied: Sendable {
        public let index: UInt64
        public let command: MailboxCommand?
        public let outcome: MailboxOutcome
    }

    /// Opens (creating if needed) the mailbox databases in `environment`.
    public init(environment: Environment, limits: MailboxLimits = .init()) throws {
        self.environment = environment
        self.limits = limits
        (meta, tableSets) = try environment.write { txn in
            (try txn.openDatabase("mbx.meta", create: true), [try StateTables(prefix: "mbx.", txn), try StateTables(prefix: "mbx.b.", txn)])
        }
        // A store written before the quota counters existed gets them computed once from its
        // messages (a pure function of the replicated state, so every replica agrees).
        let counted = try readState { txn, tables in try txn.get(tables.totals, Self.totalBytesKey) != nil }
        if !counted {
            try environment.write { txn in
                try beginWrite(txn)
                try recount(txn)
            }
        }
    }

    static let totalBytesKey = Array("bytes".utf8)
    static let activeKey = Array("active".utf8)

    /// Which set of ``tableSets`` is live in `txn`.
    func liveSet<T: TransactionReading & ~Copyable>(_ txn: borrowing T) throws -> Int {
        try txn.get(meta, Self.activeKey) == [1] ? 1 : 0
    }

    /// Runs `body` in a read transaction with the state tables live in it.
    func readState<R>(_ body: (borrowing ReadTransaction, StateTables) throws -> R) throws -> R {
        try environment.read { txn in try body(txn, tableSets[try liveSet(txn)]) }
    }

    /// Resolves the live set for the write transaction `txn` (see ``writeTables``): every write
    /// path calls this first.
    func beginWrite(_ txn: borrowing WriteTransaction) throws {
        let live = try liveSet(txn)
        writing.withLock { $0 = live }
    }

    // MARK: Applying

    /// Applies `entries` (in index order) in one transaction; entries at or below the applied
    /// index are skipped. Returns one outcome per entry that was applied.
    @discardableResult
    public func apply(_ entries: [Entry]) throws -> [Applied] {
        try environment.write { txn in try apply(entries, in: txn) }
    }

    /// Applies `entries` in the caller's transaction (which must be on this store's environment),
    /// e.g. together with the Raft log writes of the same ready: one sync for both.
    public func apply(_ entries: [Entry], in txn: borrowing WriteTransaction) throws -> [Applied] {
        try beginWrite(txn)
        var (appliedIndex, appliedTerm) = try Self.readApplied(txn, meta)
        var outcomes: [Applied] = []
        for entry in entries where entry.index > appliedIndex {
            if let bytes = entry.command {
                if let command = try? MailboxCommand(decoding: bytes) {
                    outcomes.append(Applied(index: entry.index, command: command, outcome: try apply(command, txn)))
                } else {
                    outcomes.append(Applied(index: entry.index, command: nil, outcome: .invalidCommand))
                }
            }
            appliedIndex = entry.index
            appliedTerm = entry.term
        }
        var writer = ByteWriter()
        writer.write(appliedIndex)
        writer.write(appliedTerm)
        try txn.put(meta, Self.appliedKey, writer.bytes)
        return outcomes
    }

    /// The index and term of the last applied entry (0, 0 before any).
    public func applied() throws -> (index: UInt64, term: UInt64) {
        try environment.read { txn in try Self.readApplied(txn, meta) }
    }

    static func readApplied(_ txn: borrowing WriteTransaction, _ meta: Database) throws -> (UInt64, UInt64) {
        try decodeApplied(txn.get(meta, appliedKey))
    }

    static func readApplied(_ txn: borrowing ReadTransaction, _ meta: Database) throws -> (UInt64, UInt64) {
        try decodeApplied(txn.get(meta, appliedKey))
    }

    static func decodeApplied(_ bytes: [UInt8]?) throws -> (UInt64, UInt64) {
        guard let bytes else { return (0, 0) }
        var reader = ByteReader(bytes)
        return (try reader.readUInt64("applied.index"), try reader.readUInt64("applied.term"))
    }

    func apply(_ command: MailboxCommand, _ txn: borrowing WriteTransaction) throws -> MailboxOutcome {
        switch command {
        case .batch(let commands):
            var outcomes: [MailboxOutcome] = []
            outcomes.reserveCapacity(commands.count)
            // A batch's enqueues add to their senders' relay counters once, at the end or before
            // the next other command (which may read or write a client record): decoding and
            // storing a sender's record per message was ~6 % of a server's CPU at 256 in flight.
            var relayed = RelayedCounts()
            for command in commands {
                if case .enqueue(let message) = command {
                    outcomes.append(try enqueue(message, txn, relayed: &relayed))
                } else {
                    try store(&relayed, txn)
                    outcomes.append(try apply(command, txn))
                }
            }
            try store(&relayed, txn)
            return .batch(outcomes)
        case .register(let record):
            if let violation = record.limitViolation { return .fieldOverLimit(field: violation.field, limit: violation.limit) }
            if var existing = try loadClient(record.id, txn) {
                guard existing.publicKey == record.publicKey else { return .keyMismatch }
                existing.lanAddresses = record.lanAddresses
                existing.listenAddress = record.listenAddress
                existing.listenPort = record.listenPort
                existing.lastSeenMillis = max(existing.lastSeenMillis, record.lastSeenMillis)
                try store(existing, txn)
            } else {
                try store(record, txn)
            }
            return .done

        case .attach(let client, let server, let observed, let at):
            guard var record = try loadClient(client, txn) else { return .notFound }
            if !record.attachedServers.contains(server), record.attachedServers.count < ClientRecord.Limits.maximumAttachedServers {
                record.attachedServers.append(server)
                record.attachedServers.sort()
            }
            if let observed, observed.utf8.count <= ClientRecord.Limits.maximumAddressLength, !record.wanAddresses.contains(observed) {
                record.wanAddresses = Array(([observed] + record.wanAddresses).prefix(ClientRecord.Limits.maximumWANAddresses))
            }
            record.lastSeenMillis = max(record.lastSeenMillis, at)
            try store(record, txn)
            return .done

        case .detach(let client, let server, let at):
            guard var record = try loadClient(client, txn) else { return .notFound }
            record.attachedServers.removeAll { $0 == server }
            record.lastSeenMillis = max(record.lastSeenMillis, at)
            try store(record, txn)
            return .done

        case .forgetServer(let server):
            try forget(server, txn)
            return .done

        case .retireServer(let server):
            try forget(server, txn)
            try txn.put(serversDB(txn), MailboxKey.retiredServer(server), [])
            return .done

        case .admitServer(let server, let address):
            _ = try txn.delete(serversDB(txn), MailboxKey.retiredServer(server))
            try txn.put(serversDB(txn), MailboxKey.node(server), Array(address.utf8))
            return .done

        case .registerServer(let server, let address):
            if try txn.get(serversDB(txn), MailboxKey.retiredServer(server)) != nil { return .serverRetired }
            try txn.put(serversDB(txn), MailboxKey.node(server), Array(address.utf8))
            return .done

        case .enqueue(let message):
            var relayed = RelayedCounts()
            let outcome = try enqueue(message, txn, relayed: &relayed)
            try store(&relayed, txn)
            return outcome

        case .expire(let recipient, let id, let at):
            return try expire(recipient: recipient, id: id, atMillis: at, txn)

        case .claim(let recipient, let id):
            return try claim(recipient: recipient, id: id, txn)

        case .acknowledge(let recipient, let id):
            let removed = try remove(recipient: recipient, id: id, txn)
            let key = MailboxKey.pair(recipient, id.sender)
            let through = try txn.get(delivered(txn), key).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
            if id.sequence > through {
                try txn.put(delivered(txn), key, id.sequence.bigEndianBytes)
            }
            switch removed {
            case .message: return .done
            case .skip: return .skipAcknowledged
            // Acknowledged again after its skip went: an expired id must not read as delivered
            // (its sender may still wait, and hears of an acknowledgement as "delivered").
            case .absent: return try hasExpired(recipient, id, txn) ? .skipAcknowledged : .notFound
            }

        // Operator removals leave skips, as refused messages do: the recipient's per-sender
        // sequence must stay without gaps, or later messages from that sender would wait forever.
        case .delete(let recipient, let id):
            guard let entry = try txn.get(index(txn), MailboxKey.index(recipient, id)).flatMap(MailboxIndexEntry.init), !entry.isSkip else {
                return .notFound
            }
            let messageKey = MailboxKey.message(recipient, arrival: entry.arrival)
            guard let stored = try txn.get(messagesDB(txn), messageKey) else { return .notFound }
            var reader = ByteReader(stored)
            try discard(try MailMessage.decode(from: &reader), at: messageKey, txn)
            return .done

        case .purge(let recipient):
            var messages: [(key: [UInt8], message: MailMessage)] = []
            try txn.scan(messagesDB(txn), from: MailboxKey.range(of: recipient).from, until: MailboxKey.range(of: recipient).until) { key, value in
                var reader = ByteReader(value)
                let message = try MailMessage.decode(from: &reader)
                if !message.isSkip { messages.append((key, message)) }
                return true
            }
            for (key, message) in messages { try discard(message, at: key, txn) }
            return .purged(count: messages.count)
        }
    }
}
