import LMDB
import MessageModel
import P2PCore

extension MailboxStore {

    struct Box {
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

    func loadBox(_ recipient: NodeID, _ txn: borrowing WriteTransaction) throws -> Box {
        guard let bytes = try txn.get(boxes(txn), MailboxKey.node(recipient)) else { return Box() }
        return try Box.decode(bytes)
    }

    func storeBox(_ recipient: NodeID, _ box: Box, _ txn: borrowing WriteTransaction) throws {
        var writer = ByteWriter()
        writer.write(box.nextArrival)
        writer.write(UInt64(box.count))
        writer.write(UInt64(box.bytes))
        writer.write(UInt64(box.skips))
        try txn.put(boxes(txn), MailboxKey.node(recipient), writer.bytes)
    }

    func loadSenderItems(_ recipient: NodeID, _ sender: NodeID, _ txn: borrowing WriteTransaction) throws -> Int {
        try txn.get(sendersDB(txn), MailboxKey.pair(recipient, sender)).flatMap { UInt64(bigEndianBytes: $0) }.map { Int(clamping: $0) } ?? 0
    }

    func storeSenderItems(_ recipient: NodeID, _ sender: NodeID, _ items: Int, _ txn: borrowing WriteTransaction) throws {
        let key = MailboxKey.pair(recipient, sender)
        if items > 0 {
            try txn.put(sendersDB(txn), key, UInt64(items).bigEndianBytes)
        } else {
            try txn.delete(sendersDB(txn), key)
        }
    }

    func loadTotalBytes(_ txn: borrowing WriteTransaction) throws -> Int {
        try txn.get(totalsDB(txn), Self.totalBytesKey).flatMap { UInt64(bigEndianBytes: $0) }.map { Int(clamping: $0) } ?? 0
    }

    func storeTotalBytes(_ total: Int, _ txn: borrowing WriteTransaction) throws {
        try txn.put(totalsDB(txn), Self.totalBytesKey, UInt64(max(0, total)).bigEndianBytes)
    }

    /// Recomputes every quota counter (mailbox counts, per-sender items, the store-wide total)
    /// from the messages table: for a store or snapshot from before the counters existed.
    func recount(_ txn: borrowing WriteTransaction) throws {
        var counted: [NodeID: Box] = [:]
        var senders: [[UInt8]: Int] = [:]
        var total = 0
        try txn.scan(messagesDB(txn)) { _, value in
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
            senders[MailboxKey.pair(message.recipient, message.id.sender), default: 0] += 1
            total += message.payload.count + MailboxLimits.recordOverhead
            return true
        }
        var existing: [(NodeID, Box)] = []
        try txn.scan(boxes(txn)) { key, value in
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
            try txn.scan(messagesDB(txn), from: MailboxKey.range(of: recipient).from, until: MailboxKey.range(of: recipient).until) { key, _ in
                highest = max(highest, MailboxKey.arrival(ofMessageKey: key) ?? 0)
                return true
            }
            try storeBox(recipient, Box(nextArrival: highest.saturatingAdding(1), count: fresh.count, bytes: fresh.bytes, skips: fresh.skips), txn)
        }
        try txn.clear(sendersDB(txn))
        for (key, items) in senders.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            try txn.put(sendersDB(txn), key, UInt64(items).bigEndianBytes)
        }
        try storeTotalBytes(total, txn)
    }

    func loadClient(_ id: NodeID, _ txn: borrowing WriteTransaction) throws -> ClientRecord? {
        guard let bytes = try txn.get(clientsDB(txn), MailboxKey.node(id)) else { return nil }
        var reader = ByteReader(bytes)
        return try ClientRecord.decode(from: &reader, enforcingLimits: false)
    }

    /// A server left: every client is detached from it, and its address dropped.
    func forget(_ server: NodeID, _ txn: borrowing WriteTransaction) throws {
        var changed: [ClientRecord] = []
        try txn.scan(clientsDB(txn)) { _, value in
            var reader = ByteReader(value)
            var record = try ClientRecord.decode(from: &reader, enforcingLimits: false)
            if record.attachedServers.contains(server) {
                record.attachedServers.removeAll { $0 == server }
                changed.append(record)
            }
            return true
        }
        for record in changed { try store(record, txn) }
        _ = try txn.delete(serversDB(txn), MailboxKey.node(server))
    }

    func store(_ record: ClientRecord, _ txn: borrowing WriteTransaction) throws {
        var writer = ByteWriter()
        record.encode(into: &writer)
        try txn.put(clientsDB(txn), MailboxKey.node(record.id), writer.bytes)
    }

    /// Adds `relayed` to the senders' relay counters (those with a client record) and empties it.
    func store(_ relayed: inout RelayedCounts, _ txn: borrowing WriteTransaction) throws {
        for (sender, counts) in relayed.drain() {
            guard var record = try loadClient(sender, txn) else { continue }
            // Saturating: the counters of a registration come from the log, not from this store.
            record.relayedMessages = record.relayedMessages.saturatingAdding(counts.messages)
            record.relayedBytes = record.relayedBytes.saturatingAdding(counts.bytes)
            try store(record, txn)
        }
    }

}

/// What enqueues added to their senders' relay counters, not stored yet (per sender, in the order
/// the senders first came).
struct RelayedCounts {
    private var order: [NodeID] = []
    private var counts: [NodeID: (messages: UInt64, bytes: UInt64)] = [:]

    mutating func add(_ sender: NodeID, bytes: UInt64) {
        if let current = counts[sender] {
            counts[sender] = (current.messages.saturatingAdding(1), current.bytes.saturatingAdding(bytes))
        } else {
            order.append(sender)
            counts[sender] = (1, bytes)
        }
    }

    /// The counts, per sender, and empties them.
    mutating func drain() -> [(NodeID, (messages: UInt64, bytes: UInt64))] {
        defer {
            order.removeAll()
            counts.removeAll()
        }
        return order.compactMap { sender in counts[sender].map { (sender, $0) } }
    }
}
