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
/// - The **delivered watermark** per sender is the highest sequence handed to the application;
///   only the next one may be delivered, anything at or below it is a duplicate.
public final class ClientLedger: Sendable {
    /// A message waiting in the outbox.
    public struct Outgoing: Equatable, Sendable {
        public let recipient: NodeID
        public let id: MessageID
        public let payload: [UInt8]
        /// An owed skip (empty payload): the message was given up, its id must still be filled.
        public let isSkip: Bool

        public init(recipient: NodeID, id: MessageID, payload: [UInt8], isSkip: Bool = false) {
            self.recipient = recipient
            self.id = id
            self.payload = payload
            self.isSkip = isSkip
        }
    }

    /// Why the ledger refused an operation.
    public enum LedgerError: Error, Equatable, Sendable {
        /// Delivery must follow the sender's sequence: `expected` is the only deliverable one.
        case outOfOrder(sender: NodeID, expected: UInt64, got: UInt64)
    }

    private let environment: Environment
    private let me: NodeID
    private let outbox: Database
    private let sequences: Database
    private let delivered: Database
    private let skips: Database

    /// Opens the ledger of client `me` in `environment`.
    public init(environment: Environment, me: NodeID) throws {
        self.environment = environment
        self.me = me
        outbox = try environment.openDatabase("client.outbox")
        sequences = try environment.openDatabase("client.sequences")
        delivered = try environment.openDatabase("client.delivered")
        skips = try environment.openDatabase("client.skips")
    }

    /// Gives each payload the next sequence number for `recipient` and stores it in the outbox,
    /// all in one durable transaction; returns the assigned ids in order.
    public func prepare(to recipient: NodeID, payloads: [[UInt8]]) throws -> [Outgoing] {
        try commit(prepare: payloads.map { (recipient, $0) }, resolve: [])
    }

    /// In one durable transaction: numbers and stores `prepare` (each payload gets its
    /// recipient's next sequence, in order) and removes `resolve` from the outbox. Concurrent
    /// sends share this one sync. `skip` turns outbox entries into owed skips (their payloads
    /// are dropped; see ``Outgoing/isSkip``); `resolve` removes entries of either kind.
    public func commit(
        prepare: [(recipient: NodeID, payload: [UInt8])], resolve: [(recipient: NodeID, sequence: UInt64)],
        skip: [(recipient: NodeID, sequence: UInt64)] = []
    ) throws -> [Outgoing] {
        try environment.write { txn in
            var next: [NodeID: UInt64] = [:]
            var prepared: [Outgoing] = []
            for (recipient, payload) in prepare {
                let last = try next[recipient] ?? txn.get(sequences, recipient.bytes).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
                try txn.put(outbox, recipient.bytes + (last + 1).bigEndianBytes, payload)
                prepared.append(Outgoing(recipient: recipient, id: MessageID(sender: me, sequence: last + 1), payload: payload))
                next[recipient] = last + 1
            }
            for (recipient, last) in next { try txn.put(sequences, recipient.bytes, last.bigEndianBytes) }
            for message in skip {
                let key = message.recipient.bytes + message.sequence.bigEndianBytes
                if try txn.delete(outbox, key) { try txn.put(skips, key, []) }
            }
            for message in resolve {
                let key = message.recipient.bytes + message.sequence.bigEndianBytes
                try txn.delete(outbox, key)
                try txn.delete(skips, key)
            }
            return prepared
        }
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
                    result.append(Outgoing(
                        recipient: recipient, id: MessageID(sender: me, sequence: sequence), payload: isSkip ? [] : value, isSkip: isSkip
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
            guard id.sequence == through + 1 else {
                throw LedgerError.outOfOrder(sender: id.sender, expected: through + 1, got: id.sequence)
            }
            try txn.put(delivered, id.sender.bytes, id.sequence.bigEndianBytes)
        }
    }
}
