import Delivery
import LMDB
import P2PCore

/// The client's durable delivery state, in LMDB in its state directory (see docs/DELIVERY.md).
///
/// - The **outbox** holds every message that was given a sequence number until its fate is
///   definitive (delivered, stored, or refused), so that a restarted client resumes retrying it
///   and the recipient never waits for a sequence number that nobody will send.
/// - An **owed skip** replaces an outbox entry whose message the cluster refused without
///   storing anything (sender quota, storage full): the message is given up, but its sequence
///   number was taken, so a skip for it is retried (also after a restart) until the recipient's
///   mailbox takes it and the recipient can pass over the id.
/// - An outbox message's **expiry**, if it has one, is kept beside it (`client.expiries`).
/// - The **delivered watermark** per sender is the highest sequence handed to the application;
///   only the next one may be delivered, anything at or below it is a duplicate.
///
/// With a journal (`journalPath`), ``commit(_:whenDurable:)`` makes a transaction durable by
/// appending it to the ``Journal`` (one write, one device flush) and commits it to LMDB only
/// atomically (one flush more, after the caller was told): an LMDB commit is durable only after
/// two flushes, and the client's ledger is on every message's way twice (the sender's outbox,
/// the recipient's delivered watermark). LMDB records the number of the last journal record it
/// holds; opening replays the records after it, and the journal is emptied whenever LMDB is
/// synced (see ``JournaledCommits``, and at ``checkpoint()``).
public final class ClientLedger: Sendable {
    /// A message waiting in the outbox.
    public typealias Outgoing = OutboxEntry

    /// Why the ledger refused an operation.
    public enum LedgerError: Error, Equatable, Sendable {
        /// Delivery must follow the sender's sequence: `expected` is the only deliverable one.
        case outOfOrder(sender: NodeID, expected: UInt64, got: UInt64)
        /// Every sequence towards `recipient` is taken (the ledger claims the last one: its
        /// file is damaged).
        case sequencesExhausted(recipient: NodeID)
    }

    private let environment: Environment
    private let me: NodeID
    private let outbox: Database
    private let sequences: Database
    private let delivered: Database
    private let skips: Database
    private let expiries: Database
    private let journal: JournaledCommits?

    /// Opens the ledger of client `me` in `environment`, with the journal at `journalPath` if
    /// given (created if missing; records LMDB lacks are redone, durably, before this returns).
    public init(environment: Environment, me: NodeID, journalPath: String? = nil) throws {
        self.environment = environment
        self.me = me
        outbox = try environment.openDatabase("client.outbox")
        sequences = try environment.openDatabase("client.sequences")
        delivered = try environment.openDatabase("client.delivered")
        skips = try environment.openDatabase("client.skips")
        expiries = try environment.openDatabase("client.expiries")
        journal = try journalPath.map { try JournaledCommits(environment: environment, journalPath: $0, table: "client.journal") }
        try journal?.recover { bytes, txn in
            let record = try LedgerJournalRecord(decoding: bytes, me: me)
            _ = try apply([LedgerBatch(number: 0, operations: record.operations)], txn)
        }
    }

    /// Syncs LMDB and empties the journal (a clean stop leaves no journal to redo).
    public func checkpoint() throws {
        try journal?.checkpoint()
    }

    /// Closes the journal (the environment is the caller's).
    public func close() {
        journal?.journal.close()
    }

    /// Gives each payload the next sequence number for `recipient` and stores it in the outbox,
    /// all in one durable transaction; returns the assigned ids in order.
    public func prepare(to recipient: NodeID, payloads: [[UInt8]]) throws -> [Outgoing] {
        try commit(prepare: payloads.map { (recipient, $0) }, resolve: [])
    }

    /// In one durable transaction: numbers and stores `prepare` (each payload gets its
    /// recipient's next sequence, in order) and removes `resolve` from the outbox. Concurrent
    /// sends share this one sync. `skip` turns outbox entries into owed skips (their payloads
    /// are dropped; see `OutboxEntry.isSkip`); `resolve` removes entries of either kind.
    public func commit(
        prepare: [(recipient: NodeID, payload: [UInt8])], resolve: [(recipient: NodeID, sequence: UInt64)],
        skip: [(recipient: NodeID, sequence: UInt64)] = []
    ) throws -> [Outgoing] {
        try environment.write { txn in
            var next: [NodeID: UInt64] = [:]
            var prepared: [Outgoing] = []
            for (recipient, payload) in prepare { prepared.append(try self.prepare(recipient, payload, nil, &next, txn)) }
            try storeSequences(next, txn)
            for message in skip { try oweSkip(message.recipient.bytes + message.sequence.bigEndianBytes, txn) }
            for message in resolve { try self.resolve(message.recipient.bytes + message.sequence.bigEndianBytes, txn) }
            return prepared
        }
    }

    /// Applies the operations of `batches` in order, in one durable transaction (concurrent sends
    /// share its sync); returns, per batch, the ids assigned to its prepares. Nothing is written
    /// if any operation fails.
    ///
    /// `whenDurable` is called with the same result as soon as the transaction is durable: with
    /// a journal, that is before the LMDB commit (which follows, atomically), so a caller can act
    /// on it one device flush earlier. If the LMDB commit then fails, this still throws, but the
    /// transaction stays durable in the journal and is replayed when the ledger is opened again.
    public func commit(_ batches: [LedgerBatch], whenDurable: (([[MessageID]]) -> Void)? = nil) throws -> [[MessageID]] {
        guard let journal else {
            let assigned = try environment.write { txn in try apply(batches, txn) }
            whenDurable?(assigned)
            return assigned
        }
        return try journal.write({ txn in
            (try apply(batches, txn), LedgerJournalRecord(operations: batches.flatMap(\.operations)).encoded())
        }, whenDurable: { whenDurable?($0) })
    }

    /// Applies the operations of `batches` in order in `txn`; the ids assigned, per batch.
    private func apply(_ batches: [LedgerBatch], _ txn: borrowing WriteTransaction) throws -> [[MessageID]] {
        var next: [NodeID: UInt64] = [:]
        var delivered: [NodeID: UInt64] = [:]
        var assigned: [[MessageID]] = []
        for batch in batches {
            var ids: [MessageID] = []
            for operation in batch.operations {
                switch operation {
                case .prepare(let recipient, let payload, let expiresAt): ids.append(try self.prepare(recipient, payload, expiresAt, &next, txn).id)
                case .resolve(let key): try self.resolve(key.recipient.bytes + key.id.sequence.bigEndianBytes, txn)
                case .oweSkip(let key): try oweSkip(key.recipient.bytes + key.id.sequence.bigEndianBytes, txn)
                case .markDelivered(let id):
                    let through = try delivered[id.sender] ?? self.deliveredThrough(id.sender, txn)
                    guard through < .max, id.sequence == through + 1 else {
                        throw LedgerError.outOfOrder(sender: id.sender, expected: through.saturatingAdding(1), got: id.sequence)
                    }
                    try txn.put(self.delivered, id.sender.bytes, id.sequence.bigEndianBytes)
                    delivered[id.sender] = id.sequence
                }
            }
            assigned.append(ids)
        }
        try storeSequences(next, txn)
        return assigned
    }

    /// Gives `payload` the next sequence towards `recipient` (`next` caches this transaction's).
    private func prepare(
        _ recipient: NodeID, _ payload: [UInt8], _ expiresAt: UInt64?, _ next: inout [NodeID: UInt64], _ txn: borrowing WriteTransaction
    ) throws -> Outgoing {
        let last = try next[recipient] ?? txn.get(sequences, recipient.bytes).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
        guard last < .max else { throw LedgerError.sequencesExhausted(recipient: recipient) }
        let key = recipient.bytes + (last + 1).bigEndianBytes
        try txn.put(outbox, key, payload)
        if let expiresAt { try txn.put(expiries, key, expiresAt.bigEndianBytes) }
        next[recipient] = last + 1
        return Outgoing(recipient: recipient, id: MessageID(sender: me, sequence: last + 1), payload: payload, expiresAt: expiresAt)
    }

    private func storeSequences(_ next: [NodeID: UInt64], _ txn: borrowing WriteTransaction) throws {
        for (recipient, last) in next { try txn.put(sequences, recipient.bytes, last.bigEndianBytes) }
    }

    private func oweSkip(_ key: [UInt8], _ txn: borrowing WriteTransaction) throws {
        if try txn.delete(outbox, key) { try txn.put(skips, key, []) }
        try txn.delete(expiries, key)
    }

    private func resolve(_ key: [UInt8], _ txn: borrowing WriteTransaction) throws {
        try txn.delete(outbox, key)
        try txn.delete(skips, key)
        try txn.delete(expiries, key)
    }

    private func deliveredThrough(_ sender: NodeID, _ txn: borrowing WriteTransaction) throws -> UInt64 {
        try txn.get(delivered, sender.bytes).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
    }

    /// Everything a restarted client resumes from: the outbox (owed skips included) and the
    /// delivered watermark of every sender.
    public func contents() throws -> LedgerContents {
        let outbox = try pending()
        let watermarks = try environment.read { txn in
            var result: [NodeID: UInt64] = [:]
            try txn.scan(delivered) { key, value in
                if let sender = NodeID(bytes: key), let through = UInt64(bigEndianBytes: value) { result[sender] = through }
                return true
            }
            return result
        }
        return LedgerContents(outbox: outbox, deliveredThrough: watermarks)
    }

    /// Removes messages whose fate is definitive from the outbox.
    public func resolve(_ messages: [(recipient: NodeID, sequence: UInt64)]) throws {
        _ = try commit(prepare: [], resolve: messages)
    }

    /// Everything still in the outbox, owed skips included, per recipient in sequence order
    /// (for resuming after a restart).
    public func pending() throws -> [Outgoing] {
        try environment.read { txn in
            var result: [Outgoing] = []
            for (database, isSkip) in [(outbox, false), (skips, true)] {
                try txn.scan(database) { key, value in
                    guard key.count == 24, let recipient = NodeID(bytes: key.prefix(16)),
                          let sequence = UInt64(bigEndianBytes: key.suffix(8))
                    else {
                        throw DecodingError.malformed(field: "client.outbox", reason: "bad key of \(key.count) bytes")
                    }
                    let expiresAt = isSkip ? nil : try txn.get(expiries, key).flatMap { UInt64(bigEndianBytes: $0) }
                    result.append(Outgoing(
                        recipient: recipient, id: MessageID(sender: me, sequence: sequence), payload: isSkip ? [] : value, isSkip: isSkip,
                        expiresAt: expiresAt
                    ))
                    return true
                }
            }
            return result.sorted { ($0.recipient, $0.id.sequence) < ($1.recipient, $1.id.sequence) }
        }
    }

    /// The highest sequence from `sender` handed to the application (0: none yet).
    public func deliveredThrough(_ sender: NodeID) throws -> UInt64 {
        try environment.read { txn in
            try txn.get(delivered, sender.bytes).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
        }
    }

    /// Records that `id` was handed to the application; it must be the sender's next sequence.
    public func markDelivered(_ id: MessageID) throws {
        try environment.write { txn in
            let through = try txn.get(delivered, id.sender.bytes).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
            guard through < .max, id.sequence == through + 1 else {
                throw LedgerError.outOfOrder(sender: id.sender, expected: through.saturatingAdding(1), got: id.sequence)
            }
            try txn.put(delivered, id.sender.bytes, id.sequence.bigEndianBytes)
        }
    }
}
