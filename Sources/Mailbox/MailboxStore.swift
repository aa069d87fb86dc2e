import Crypto
import LMDB
import P2PCore

/// The replicated mailbox state machine, stored in LMDB.
///
/// Committed Raft entries are applied in order with ``apply(_:)``; each batch is one LMDB write
/// transaction that also records the applied index, so after a crash the state and the index
/// always agree and re-applying an entry at or below the applied index is a no-op.
///
/// Layout (all keys big-endian so cursors walk them in order):
/// - `mbx.meta`      `applied` → index, term
/// - `mbx.clients`   client id → ``ClientRecord``
/// - `mbx.boxes`     recipient → next arrival number, message count, byte count
/// - `mbx.messages`  recipient ‖ arrival → ``MailMessage`` (the per-client FIFO)
/// - `mbx.index`     recipient ‖ sender ‖ sequence → arrival (dedup and acknowledge lookup)
/// - `mbx.delivered` recipient ‖ sender → highest acknowledged sequence
/// - `mbx.servers`   server id → the address other servers dial it at
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
    private let environment: Environment
    private let meta: Database
    private let clientsDB: Database
    private let boxes: Database
    private let messagesDB: Database
    private let index: Database
    private let delivered: Database
    private let serversDB: Database
    private static let appliedKey = Array("applied".utf8)

    /// Opens (creating if needed) the mailbox databases in `environment`.
    public init(environment: Environment, limits: MailboxLimits = .init()) throws {
        self.environment = environment
        self.limits = limits
        meta = try environment.openDatabase("mbx.meta")
        clientsDB = try environment.openDatabase("mbx.clients")
        boxes = try environment.openDatabase("mbx.boxes")
        messagesDB = try environment.openDatabase("mbx.messages")
        index = try environment.openDatabase("mbx.index")
        delivered = try environment.openDatabase("mbx.delivered")
        serversDB = try environment.openDatabase("mbx.servers")
    }

    private var stateDatabases: [Database] { [clientsDB, boxes, messagesDB, index, delivered, serversDB] }

    // MARK: Applying

    /// Applies `entries` (in index order) in one transaction; entries at or below the applied
    /// index are skipped. Returns one outcome per entry that was applied.
    @discardableResult
    public func apply(_ entries: [Entry]) throws -> [(index: UInt64, outcome: MailboxOutcome)] {
        try environment.write { txn in try apply(entries, in: txn) }
    }

    /// Applies `entries` in the caller's transaction (which must be on this store's environment),
    /// e.g. together with the Raft log writes of the same ready: one sync for both.
    public func apply(_ entries: [Entry], in txn: borrowing WriteTransaction) throws -> [(index: UInt64, outcome: MailboxOutcome)] {
        var (appliedIndex, appliedTerm) = try Self.readApplied(txn, meta)
        var outcomes: [(index: UInt64, outcome: MailboxOutcome)] = []
        for entry in entries where entry.index > appliedIndex {
            if let bytes = entry.command {
                let outcome: MailboxOutcome
                if let command = try? MailboxCommand(decoding: bytes) {
                    outcome = try apply(command, txn)
                } else {
                    outcome = .invalidCommand
                }
                outcomes.append((entry.index, outcome))
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

    private static func readApplied(_ txn: borrowing WriteTransaction, _ meta: Database) throws -> (UInt64, UInt64) {
        try decodeApplied(txn.get(meta, appliedKey))
    }

    private static func readApplied(_ txn: borrowing ReadTransaction, _ meta: Database) throws -> (UInt64, UInt64) {
        try decodeApplied(txn.get(meta, appliedKey))
    }

    private static func decodeApplied(_ bytes: [UInt8]?) throws -> (UInt64, UInt64) {
        guard let bytes else { return (0, 0) }
        var reader = ByteReader(bytes)
        return (try reader.readUInt64("applied.index"), try reader.readUInt64("applied.term"))
    }

    private func apply(_ command: MailboxCommand, _ txn: borrowing WriteTransaction) throws -> MailboxOutcome {
        switch command {
        case .register(let record):
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
            if !record.attachedServers.contains(server) {
                record.attachedServers.append(server)
                record.attachedServers.sort()
            }
            if let observed, !record.wanAddresses.contains(observed) {
                record.wanAddresses = Array(([observed] + record.wanAddresses).prefix(8))
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
            var changed: [ClientRecord] = []
            try txn.scan(clientsDB) { _, value in
                var reader = ByteReader(value)
                var record = try ClientRecord.decode(from: &reader)
                if record.attachedServers.contains(server) {
                    record.attachedServers.removeAll { $0 == server }
                    changed.append(record)
                }
                return true
            }
            for record in changed { try store(record, txn) }
            _ = try txn.delete(serversDB, server.bytes)
            return .done

        case .registerServer(let server, let address):
            try txn.put(serversDB, server.bytes, Array(address.utf8))
            return .done

        case .enqueue(let message):
            return try enqueue(message, txn)

        case .acknowledge(let recipient, let id):
            let removed = try remove(recipient: recipient, id: id, txn)
            let key = recipient.bytes + id.sender.bytes
            let through = try txn.get(delivered, key).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
            if id.sequence > through {
                try txn.put(delivered, key, id.sequence.bigEndianBytes)
            }
            switch removed {
            case .message: return .done
            case .skip: return .skipAcknowledged
            case .absent: return .notFound
            }

        // Operator removals leave skips, as refused messages do: the recipient's per-sender
        // sequence must stay without gaps, or later messages from that sender would wait forever.
        case .delete(let recipient, let id):
            let indexKey = recipient.bytes + id.sender.bytes + id.sequence.bigEndianBytes
            guard let indexValue = try txn.get(index, indexKey), indexValue.count == 9, indexValue.last == Self.messageFlag else {
                return .notFound
            }
            let messageKey = recipient.bytes + indexValue.prefix(8)
            guard let stored = try txn.get(messagesDB, messageKey) else { return .notFound }
            var reader = ByteReader(stored)
            try discard(try MailMessage.decode(from: &reader), at: messageKey, txn)
            return .done

        case .purge(let recipient):
            var messages: [(key: [UInt8], message: MailMessage)] = []
            try txn.scan(messagesDB, from: recipient.bytes, until: Self.successor(recipient)) { key, value in
                var reader = ByteReader(value)
                let message = try MailMessage.decode(from: &reader)
                if !message.isSkip { messages.append((key, message)) }
                return true
            }
            for (key, message) in messages { try discard(message, at: key, txn) }
            return .purged(count: messages.count)
        }
    }

    private func enqueue(_ message: MailMessage, _ txn: borrowing WriteTransaction) throws -> MailboxOutcome {
        let recipient = message.recipient
        // Skips are made by the store alone (for refused or discarded mail); one arriving in a
        // command would be counted as mail that neither purge nor the recipient can clear.
        guard !message.isSkip else { return .invalidCommand }
        guard try txn.get(clientsDB, recipient.bytes) != nil else { return .unknownRecipient }
        let through = try txn.get(delivered, recipient.bytes + message.id.sender.bytes)
            .flatMap { UInt64(bigEndianBytes: $0) } ?? 0
        if message.id.sequence <= through { return .alreadyDelivered }
        var box = try loadBox(recipient, txn)
        let indexKey = recipient.bytes + message.id.sender.bytes + message.id.sequence.bigEndianBytes
        if let existing = try txn.get(index, indexKey) {
            // A retry: the first decision about this id stands.
            return existing.last == Self.skipFlag ? .mailboxFull(messages: box.count, bytes: box.bytes) : .stored
        }
        let size = message.payload.count
        // `box.bytes + size > maximumBytes`, written so that it cannot overflow.
        let isFull = box.count >= limits.maximumMessages || size > limits.maximumBytes || box.bytes > limits.maximumBytes - size
        // Arrival numbers cannot run out in practice; a restored state claiming so refuses mail.
        guard box.nextArrival < UInt64.max else { return .mailboxFull(messages: box.count, bytes: box.bytes) }
        // A refused message leaves a skip in its place (exempt from the limits) so that the
        // recipient's per-sender sequence has no gap.
        let record = isFull ? message.skip() : message
        let arrival = box.nextArrival
        var writer = ByteWriter(capacity: record.payload.count + 64)
        record.encode(into: &writer)
        try txn.put(messagesDB, recipient.bytes + arrival.bigEndianBytes, writer.bytes)
        try txn.put(index, indexKey, arrival.bigEndianBytes + [isFull ? Self.skipFlag : Self.messageFlag])
        box.nextArrival += 1
        if isFull {
            try storeBox(recipient, box, txn)
            return .mailboxFull(messages: box.count, bytes: box.bytes)
        }
        box.count += 1
        box.bytes += size
        try storeBox(recipient, box, txn)

        if var sender = try loadClient(message.id.sender, txn) {
            // Saturating: the counters of a registration come from the log, not from this store.
            sender.relayedMessages = sender.relayedMessages.addingReportingOverflow(1).overflow ? .max : sender.relayedMessages + 1
            let (bytes, overflow) = sender.relayedBytes.addingReportingOverflow(UInt64(size))
            sender.relayedBytes = overflow ? .max : bytes
            try store(sender, txn)
        }
        return .stored
    }

    private static let messageFlag: UInt8 = 0
    private static let skipFlag: UInt8 = 1

    private enum Removal { case absent, message, skip }

    /// Replaces a message with its skip (same arrival, same id) and takes it out of the counts.
    private func discard(_ message: MailMessage, at messageKey: [UInt8], _ txn: borrowing WriteTransaction) throws {
        let recipient = message.recipient
        var writer = ByteWriter(capacity: 64)
        message.skip().encode(into: &writer)
        try txn.put(messagesDB, messageKey, writer.bytes)
        let indexKey = recipient.bytes + message.id.sender.bytes + message.id.sequence.bigEndianBytes
        try txn.put(index, indexKey, Array(messageKey.suffix(8)) + [Self.skipFlag])
        var box = try loadBox(recipient, txn)
        box.count = max(0, box.count - 1)
        box.bytes = max(0, box.bytes - message.payload.count)
        try storeBox(recipient, box, txn)
    }

    private func remove(recipient: NodeID, id: MessageID, _ txn: borrowing WriteTransaction) throws -> Removal {
        let indexKey = recipient.bytes + id.sender.bytes + id.sequence.bigEndianBytes
        guard let indexValue = try txn.get(index, indexKey), indexValue.count == 9 else { return .absent }
        let messageKey = recipient.bytes + indexValue.prefix(8)
        let isSkip = indexValue.last == Self.skipFlag
        var size = 0
        if !isSkip, let stored = try txn.get(messagesDB, messageKey) {
            var reader = ByteReader(stored)
            size = try MailMessage.decode(from: &reader).payload.count
        }
        try txn.delete(messagesDB, messageKey)
        try txn.delete(index, indexKey)
        if !isSkip {
            var box = try loadBox(recipient, txn)
            box.count = max(0, box.count - 1)
            box.bytes = max(0, box.bytes - size)
            try storeBox(recipient, box, txn)
        }
        return isSkip ? .skip : .message
    }

    // MARK: Records

    private struct Box {
        var nextArrival: UInt64 = 1
        var count = 0
        var bytes = 0
    }

    private func loadBox(_ recipient: NodeID, _ txn: borrowing WriteTransaction) throws -> Box {
        guard let bytes = try txn.get(boxes, recipient.bytes) else { return Box() }
        var reader = ByteReader(bytes)
        return Box(
            nextArrival: try reader.readUInt64("box.next"),
            count: Int(clamping: try reader.readUInt64("box.count")),
            bytes: Int(clamping: try reader.readUInt64("box.bytes"))
        )
    }

    private func storeBox(_ recipient: NodeID, _ box: Box, _ txn: borrowing WriteTransaction) throws {
        var writer = ByteWriter()
        writer.write(box.nextArrival)
        writer.write(UInt64(box.count))
        writer.write(UInt64(box.bytes))
        try txn.put(boxes, recipient.bytes, writer.bytes)
    }

    private func loadClient(_ id: NodeID, _ txn: borrowing WriteTransaction) throws -> ClientRecord? {
        guard let bytes = try txn.get(clientsDB, id.bytes) else { return nil }
        var reader = ByteReader(bytes)
        return try ClientRecord.decode(from: &reader)
    }

    private func store(_ record: ClientRecord, _ txn: borrowing WriteTransaction) throws {
        var writer = ByteWriter()
        record.encode(into: &writer)
        try txn.put(clientsDB, record.id.bytes, writer.bytes)
    }

    /// The smallest 16-byte key greater than every key that starts with `id` (for range ends).
    private static func successor(_ id: NodeID) -> [UInt8]? {
        var bytes = id.bytes
        for i in bytes.indices.reversed() {
            if bytes[i] < 0xFF {
                bytes[i] += 1
                return Array(bytes[...i])
            }
        }
        return nil
    }
}

// MARK: - Queries

extension MailboxStore {
    /// Up to `limit` messages of `recipient`'s mailbox in FIFO order, starting after `arrival`.
    public func messages(for recipient: NodeID, after arrival: UInt64 = 0, limit: Int = 100) throws -> [(arrival: UInt64, message: MailMessage)] {
        try environment.read { txn in
            var result: [(arrival: UInt64, message: MailMessage)] = []
            guard arrival < UInt64.max else { return [] }
            try txn.scan(messagesDB, from: recipient.bytes + (arrival + 1).bigEndianBytes, until: Self.successor(recipient)) { key, value in
                var reader = ByteReader(value)
                result.append((UInt64(bigEndianBytes: key.suffix(8)) ?? 0, try MailMessage.decode(from: &reader)))
                return result.count < limit
            }
            return result
        }
    }

    /// Each sender's lowest sequences in `recipient`'s mailbox (at most `perSender` each, `limit`
    /// in all), whatever order they arrived in: what the recipient can deliver next. A message
    /// that arrived after later ones of its sender (relayed once a direct attempt timed out, say)
    /// comes first here, where the arrival order would put it behind them.
    public func sequenceHeads(for recipient: NodeID, perSender: Int, limit: Int) throws -> [(arrival: UInt64, message: MailMessage)] {
        try environment.read { txn in
            var arrivals: [UInt64] = []
            var sender: [UInt8] = []
            var taken = 0
            try txn.scan(index, from: recipient.bytes, until: Self.successor(recipient)) { key, value in
                guard key.count == 40, value.count == 9, let arrival = UInt64(bigEndianBytes: value.prefix(8)) else { return true }
                let keySender = Array(key[16..<32])
                if keySender != sender {
                    sender = keySender
                    taken = 0
                }
                if taken < perSender {
                    arrivals.append(arrival)
                    taken += 1
                }
                return arrivals.count < limit
            }
            var result: [(arrival: UInt64, message: MailMessage)] = []
            for arrival in arrivals {
                guard let stored = try txn.get(messagesDB, recipient.bytes + arrival.bigEndianBytes) else { continue }
                var reader = ByteReader(stored)
                result.append((arrival, try MailMessage.decode(from: &reader)))
            }
            return result
        }
    }

    /// Depth, bytes and oldest message of `recipient`'s mailbox.
    public func stats(for recipient: NodeID) throws -> MailboxStats {
        try environment.read { txn in
            guard let bytes = try txn.get(boxes, recipient.bytes) else { return .empty }
            var reader = ByteReader(bytes)
            _ = try reader.readUInt64("box.next")
            let count = Int(clamping: try reader.readUInt64("box.count"))
            let size = Int(clamping: try reader.readUInt64("box.bytes"))
            var oldest: UInt64?
            try txn.scan(messagesDB, from: recipient.bytes, until: Self.successor(recipient)) { _, value in
                var messageReader = ByteReader(value)
                let message = try MailMessage.decode(from: &messageReader)
                if !message.isSkip { oldest = message.enqueuedAtMillis }
                return message.isSkip
            }
            return MailboxStats(messages: count, bytes: size, oldestEnqueuedAtMillis: oldest)
        }
    }

    /// The highest sequence from `sender` that `recipient` acknowledged (0: none).
    public func deliveredThrough(recipient: NodeID, sender: NodeID) throws -> UInt64 {
        try environment.read { txn in
            try txn.get(delivered, recipient.bytes + sender.bytes).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
        }
    }

    /// The registry entry of one client.
    public func client(_ id: NodeID) throws -> ClientRecord? {
        try environment.read { txn in
            guard let bytes = try txn.get(clientsDB, id.bytes) else { return nil }
            var reader = ByteReader(bytes)
            return try ClientRecord.decode(from: &reader)
        }
    }

    /// Every server that announced its address (``MailboxCommand/registerServer(id:address:)``),
    /// by id.
    public func servers() throws -> [NodeID: String] {
        try environment.read { txn in
            var result: [NodeID: String] = [:]
            try txn.scan(serversDB) { key, value in
                if let id = NodeID(bytes: key) { result[id] = String(decoding: value, as: UTF8.self) }
                return true
            }
            return result
        }
    }

    /// Every client known to the cluster, online or not, ordered by id.
    public func clients() throws -> [ClientRecord] {
        try environment.read { txn in
            var result: [ClientRecord] = []
            try txn.scan(clientsDB) { _, value in
                var reader = ByteReader(value)
                result.append(try ClientRecord.decode(from: &reader))
                return true
            }
            return result
        }
    }
}

// MARK: - Snapshots

extension MailboxStore {
    /// Version 2 added the server table; version 1 snapshots restore with it empty.
    private static let snapshotMagic: [UInt8] = Array("P2PMBX2".utf8)
    private static let snapshotMagicVersion1: [UInt8] = Array("P2PMBX1".utf8)

    /// The whole applied state (without the applied index) and the index/term it reflects,
    /// read from one consistent LMDB snapshot. Raft snapshots carry these bytes.
    public func snapshot() throws -> (data: [UInt8], index: UInt64, term: UInt64) {
        try environment.read { txn in
            let (appliedIndex, appliedTerm) = try Self.readApplied(txn, meta)
            var writer = ByteWriter(capacity: 1 << 16)
            for byte in Self.snapshotMagic { writer.write(byte) }
            for database in stateDatabases {
                var entries: [(key: [UInt8], value: [UInt8])] = []
                try txn.scan(database) { key, value in
                    entries.append((key, value))
                    return true
                }
                writer.write(UInt64(entries.count))
                for entry in entries {
                    writer.write(lengthPrefixed: entry.key)
                    writer.write(lengthPrefixed: entry.value)
                }
            }
            return (writer.bytes, appliedIndex, appliedTerm)
        }
    }

    /// Replaces the whole state with a snapshot's, applied through `index`/`term`.
    public func restore(snapshot data: [UInt8], index appliedIndex: UInt64, term appliedTerm: UInt64) throws {
        // Decode fully before touching the store: a bad snapshot must not leave a half-restored state.
        var reader = ByteReader(data)
        var magic: [UInt8] = []
        for _ in Self.snapshotMagic { magic.append(try reader.readUInt8("snapshot.magic")) }
        guard magic == Self.snapshotMagic || magic == Self.snapshotMagicVersion1 else {
            throw DecodingError.malformed(field: "snapshot.magic", reason: "not a mailbox snapshot")
        }
        let storedTables = magic == Self.snapshotMagic ? stateDatabases.count : stateDatabases.count - 1
        var tables: [[(key: [UInt8], value: [UInt8])]] = []
        for _ in 0..<storedTables {
            let count = try reader.readUInt64("snapshot.count")
            var entries: [(key: [UInt8], value: [UInt8])] = []
            for _ in 0..<count {
                entries.append((try reader.readLengthPrefixed("snapshot.key"), try reader.readLengthPrefixed("snapshot.value")))
            }
            tables.append(entries)
        }
        try reader.expectEnd()
        while tables.count < stateDatabases.count { tables.append([]) }
        try environment.write { txn in
            for (database, entries) in zip(stateDatabases, tables) {
                try txn.clear(database)
                for entry in entries { try txn.put(database, entry.key, entry.value, mode: .append) }
            }
            var writer = ByteWriter()
            writer.write(appliedIndex)
            writer.write(appliedTerm)
            try txn.put(meta, Self.appliedKey, writer.bytes)
        }
    }

    /// SHA-256 of the applied state, for comparing replicas.
    public func digest() throws -> (digest: String, index: UInt64) {
        let snapshot = try snapshot()
        let hash = SHA256.hash(data: snapshot.data)
        let hex = hash.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }
        return (hex.joined(), snapshot.index)
    }
}
