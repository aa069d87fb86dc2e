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
/// - `mbx.boxes`     recipient → next arrival number, message count, payload bytes, skip count
/// - `mbx.senders`   recipient ‖ sender → items (messages and skips) of that sender in that mailbox
/// - `mbx.totals`    `bytes` → what all mailboxes hold (payloads plus an overhead per record)
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
    private let sendersDB: Database
    private let totalsDB: Database
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
        sendersDB = try environment.openDatabase("mbx.senders")
        totalsDB = try environment.openDatabase("mbx.totals")
        // A store written before the quota counters existed gets them computed once from its
        // messages (a pure function of the replicated state, so every replica agrees).
        let counted = try environment.read { txn in try txn.get(totalsDB, Self.totalBytesKey) != nil }
        if !counted { try environment.write { txn in try recount(txn) } }
    }

    /// The tables a snapshot carries, in order (version 1 had the first five, version 2 six).
    private var stateDatabases: [Database] { [clientsDB, boxes, messagesDB, index, delivered, serversDB, sendersDB, totalsDB] }
    private static let totalBytesKey = Array("bytes".utf8)

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
            var changed: [ClientRecord] = []
            try txn.scan(clientsDB) { _, value in
                var reader = ByteReader(value)
                var record = try ClientRecord.decode(from: &reader, enforcingLimits: false)
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

    /// Decides the fate of a message (or of a skip its sender owes, `message.isSkip`); see
    /// docs/DELIVERY.md, "Quotas". In order: unknown recipient, already delivered, a retry (the
    /// first decision stands; a sender's skip retracts its own stored, undelivered message), the
    /// sender's quota in this mailbox, then the mailbox limits (over them, a skip takes the
    /// message's place), then the store-wide total. Skips count against every limit; a skip is
    /// admitted over the mailbox limits (it is what keeps the recipient's sequence gapless) but
    /// never over the sender's quota or the store-wide total.
    private func enqueue(_ message: MailMessage, _ txn: borrowing WriteTransaction) throws -> MailboxOutcome {
        let recipient = message.recipient
        let sender = message.id.sender
        guard try txn.get(clientsDB, recipient.bytes) != nil else { return .unknownRecipient }
        let through = try txn.get(delivered, recipient.bytes + sender.bytes)
            .flatMap { UInt64(bigEndianBytes: $0) } ?? 0
        if message.id.sequence <= through { return .alreadyDelivered }
        var box = try loadBox(recipient, txn)
        let indexKey = recipient.bytes + sender.bytes + message.id.sequence.bigEndianBytes
        if let existing = try txn.get(index, indexKey) {
            if existing.last == Self.skipFlag { return message.isSkip ? .stored : .mailboxFull(messages: box.count, bytes: box.bytes) }
            // The sender gave up on this id (a copy was refused, so it owes a skip) while another
            // copy got in: the sender's word is the last, the recipient passes over the id.
            if message.isSkip, existing.count == 9 {
                let messageKey = recipient.bytes + existing.prefix(8)
                if let stored = try txn.get(messagesDB, messageKey) {
                    var reader = ByteReader(stored)
                    try discard(try MailMessage.decode(from: &reader), at: messageKey, txn)
                }
            }
            return .stored
        }
        var senderItems = try loadSenderItems(recipient, sender, txn)
        if senderItems >= limits.maximumMessagesPerSender { return .senderQuotaExceeded(limit: limits.maximumMessagesPerSender) }
        // Arrival numbers cannot run out in practice; a restored state claiming so refuses mail.
        guard box.nextArrival < UInt64.max else { return .mailboxFull(messages: box.count, bytes: box.bytes) }
        let overhead = MailboxLimits.recordOverhead
        let size = message.isSkip ? 0 : message.payload.count
        // Written so that no sum can overflow, whatever the stored counters claim.
        let items = box.count.addingReportingOverflow(box.skips)
        let used = box.bytes.addingReportingOverflow(box.skips.multipliedReportingOverflow(by: overhead).partialValue)
        let fitsMailbox = !message.isSkip && !items.overflow && !used.overflow
            && items.partialValue < limits.maximumMessages
            && size <= limits.maximumBytes && used.partialValue <= limits.maximumBytes - size
        let cost = fitsMailbox ? size + overhead : overhead
        var total = try loadTotalBytes(txn)
        if total > limits.maximumTotalBytes - min(cost, limits.maximumTotalBytes) || cost > limits.maximumTotalBytes {
            return .storageFull(limit: limits.maximumTotalBytes)
        }

        let record = fitsMailbox ? message : message.skip()
        let arrival = box.nextArrival
        var writer = ByteWriter(capacity: record.payload.count + 64)
        record.encode(into: &writer)
        try txn.put(messagesDB, recipient.bytes + arrival.bigEndianBytes, writer.bytes)
        try txn.put(index, indexKey, arrival.bigEndianBytes + [fitsMailbox ? Self.messageFlag : Self.skipFlag])
        let refused = (messages: box.count, bytes: box.bytes)
        box.nextArrival += 1
        // fitsMailbox implies these sums are within the limits; a skip saturates.
        if fitsMailbox {
            box.count += 1
            box.bytes += size
        } else {
            box.skips = box.skips.addingReportingOverflow(1).overflow ? .max : box.skips + 1
        }
        try storeBox(recipient, box, txn)
        senderItems += 1
        try storeSenderItems(recipient, sender, senderItems, txn)
        total += cost
        try storeTotalBytes(total, txn)
        guard fitsMailbox else { return message.isSkip ? .stored : .mailboxFull(messages: refused.messages, bytes: refused.bytes) }

        if var senderRecord = try loadClient(sender, txn) {
            // Saturating: the counters of a registration come from the log, not from this store.
            senderRecord.relayedMessages = senderRecord.relayedMessages.addingReportingOverflow(1).overflow ? .max : senderRecord.relayedMessages + 1
            let (bytes, overflow) = senderRecord.relayedBytes.addingReportingOverflow(UInt64(size))
            senderRecord.relayedBytes = overflow ? .max : bytes
            try store(senderRecord, txn)
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
        box.skips += 1
        try storeBox(recipient, box, txn)
        // The record stays (as a skip): the sender's item count is unchanged, its payload is freed.
        try storeTotalBytes(max(0, try loadTotalBytes(txn) - message.payload.count), txn)
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
        var box = try loadBox(recipient, txn)
        if isSkip {
            box.skips = max(0, box.skips - 1)
        } else {
            box.count = max(0, box.count - 1)
            box.bytes = max(0, box.bytes - size)
        }
        try storeBox(recipient, box, txn)
        try storeSenderItems(recipient, id.sender, max(0, try loadSenderItems(recipient, id.sender, txn) - 1), txn)
        try storeTotalBytes(max(0, try loadTotalBytes(txn) - size - MailboxLimits.recordOverhead), txn)
        return isSkip ? .skip : .message
    }

    // MARK: Records

    private struct Box {
        var nextArrival: UInt64 = 1
        /// Real messages and their payload bytes.
        var count = 0
        var bytes = 0
        /// Skip records.
        var skips = 0

        /// Decodes a box; one written before skips were counted has none.
        static func decode(_ bytes: [UInt8]) throws -> Box {
            var reader = ByteReader(bytes)
            var box = Box(
                nextArrival: try reader.readUInt64("box.next"),
                count: Int(clamping: try reader.readUInt64("box.count")),
                bytes: Int(clamping: try reader.readUInt64("box.bytes"))
            )
            if reader.remaining > 0 { box.skips = Int(clamping: try reader.readUInt64("box.skips")) }
            try reader.expectEnd()
            return box
        }
    }

    private func loadBox(_ recipient: NodeID, _ txn: borrowing WriteTransaction) throws -> Box {
        guard let bytes = try txn.get(boxes, recipient.bytes) else { return Box() }
        return try Box.decode(bytes)
    }

    private func storeBox(_ recipient: NodeID, _ box: Box, _ txn: borrowing WriteTransaction) throws {
        var writer = ByteWriter()
        writer.write(box.nextArrival)
        writer.write(UInt64(box.count))
        writer.write(UInt64(box.bytes))
        writer.write(UInt64(box.skips))
        try txn.put(boxes, recipient.bytes, writer.bytes)
    }

    private func loadSenderItems(_ recipient: NodeID, _ sender: NodeID, _ txn: borrowing WriteTransaction) throws -> Int {
        try txn.get(sendersDB, recipient.bytes + sender.bytes).flatMap { UInt64(bigEndianBytes: $0) }.map { Int(clamping: $0) } ?? 0
    }

    private func storeSenderItems(_ recipient: NodeID, _ sender: NodeID, _ items: Int, _ txn: borrowing WriteTransaction) throws {
        let key = recipient.bytes + sender.bytes
        if items > 0 {
            try txn.put(sendersDB, key, UInt64(items).bigEndianBytes)
        } else {
            try txn.delete(sendersDB, key)
        }
    }

    private func loadTotalBytes(_ txn: borrowing WriteTransaction) throws -> Int {
        try txn.get(totalsDB, Self.totalBytesKey).flatMap { UInt64(bigEndianBytes: $0) }.map { Int(clamping: $0) } ?? 0
    }

    private func storeTotalBytes(_ total: Int, _ txn: borrowing WriteTransaction) throws {
        try txn.put(totalsDB, Self.totalBytesKey, UInt64(max(0, total)).bigEndianBytes)
    }

    /// Recomputes every quota counter (mailbox counts, per-sender items, the store-wide total)
    /// from the messages table: for a store or snapshot from before the counters existed.
    private func recount(_ txn: borrowing WriteTransaction) throws {
        var counted: [NodeID: Box] = [:]
        var senders: [[UInt8]: Int] = [:]
        var total = 0
        try txn.scan(messagesDB) { _, value in
            var reader = ByteReader(value)
            let message = try MailMessage.decode(from: &reader)
            var box = counted[message.recipient] ?? Box()
            if message.isSkip {
                box.skips += 1
            } else {
                box.count += 1
                box.bytes += message.payload.count
            }
            counted[message.recipient] = box
            senders[message.recipient.bytes + message.id.sender.bytes, default: 0] += 1
            total += message.payload.count + MailboxLimits.recordOverhead
            return true
        }
        var existing: [(NodeID, Box)] = []
        try txn.scan(boxes) { key, value in
            if let recipient = NodeID(bytes: key) { existing.append((recipient, try Box.decode(value))) }
            return true
        }
        for (recipient, box) in existing {
            let fresh = counted.removeValue(forKey: recipient) ?? Box()
            try storeBox(recipient, Box(nextArrival: box.nextArrival, count: fresh.count, bytes: fresh.bytes, skips: fresh.skips), txn)
        }
        // Messages without a box cannot happen; should they, arrivals continue after the highest.
        for (recipient, fresh) in counted {
            var highest: UInt64 = 0
            try txn.scan(messagesDB, from: recipient.bytes, until: Self.successor(recipient)) { key, _ in
                highest = max(highest, UInt64(bigEndianBytes: key.suffix(8)) ?? 0)
                return true
            }
            try storeBox(recipient, Box(nextArrival: highest + 1, count: fresh.count, bytes: fresh.bytes, skips: fresh.skips), txn)
        }
        try txn.clear(sendersDB)
        for (key, items) in senders.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            try txn.put(sendersDB, key, UInt64(items).bigEndianBytes)
        }
        try storeTotalBytes(total, txn)
    }

    private func loadClient(_ id: NodeID, _ txn: borrowing WriteTransaction) throws -> ClientRecord? {
        guard let bytes = try txn.get(clientsDB, id.bytes) else { return nil }
        var reader = ByteReader(bytes)
        return try ClientRecord.decode(from: &reader, enforcingLimits: false)
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
            let box = try Box.decode(bytes)
            let count = box.count
            let size = box.bytes
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

    /// Skip records in `recipient`'s mailbox (they count against its limits, not in ``stats(for:)``).
    public func skips(for recipient: NodeID) throws -> Int {
        try environment.read { txn in
            try txn.get(boxes, recipient.bytes).map { try Box.decode($0).skips } ?? 0
        }
    }

    /// Items (messages and skips) `sender` has in `recipient`'s mailbox: what its quota counts.
    public func items(from sender: NodeID, in recipient: NodeID) throws -> Int {
        try environment.read { txn in
            try txn.get(sendersDB, recipient.bytes + sender.bytes).flatMap { UInt64(bigEndianBytes: $0) }.map { Int(clamping: $0) } ?? 0
        }
    }

    /// What all mailboxes hold together, in bytes (payloads plus
    /// ``MailboxLimits/recordOverhead`` per record): what ``MailboxLimits/maximumTotalBytes`` caps.
    public func totalBytes() throws -> Int {
        try environment.read { txn in
            try txn.get(totalsDB, Self.totalBytesKey).flatMap { UInt64(bigEndianBytes: $0) }.map { Int(clamping: $0) } ?? 0
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
            return try ClientRecord.decode(from: &reader, enforcingLimits: false)
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
                result.append(try ClientRecord.decode(from: &reader, enforcingLimits: false))
                return true
            }
            return result
        }
    }
}

// MARK: - Snapshots

extension MailboxStore {
    /// Version 3 added the quota counters (per-sender items, the store-wide total); version 2
    /// added the server table. Older snapshots restore with the missing tables empty and the
    /// counters recomputed from their messages.
    private static let snapshotMagic: [UInt8] = Array("P2PMBX3".utf8)
    private static let olderSnapshotTables: [[UInt8]: Int] = [Array("P2PMBX1".utf8): 5, Array("P2PMBX2".utf8): 6]

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
        let storedTables: Int
        if magic == Self.snapshotMagic {
            storedTables = stateDatabases.count
        } else if let older = Self.olderSnapshotTables[magic] {
            storedTables = older
        } else {
            throw DecodingError.malformed(field: "snapshot.magic", reason: "not a mailbox snapshot")
        }
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
            if storedTables < stateDatabases.count { try recount(txn) }
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
