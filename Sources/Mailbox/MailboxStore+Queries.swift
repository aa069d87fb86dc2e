import LMDB
import MessageModel
import P2PCore


extension MailboxStore {
    /// Up to `limit` messages of `recipient`'s mailbox in FIFO order, starting after `arrival`.
    public func messages(for recipient: NodeID, after arrival: UInt64 = 0, limit: Int = 100) throws -> [(arrival: UInt64, message: MailMessage)] {
        try readState { txn, tables in
            var result: [(arrival: UInt64, message: MailMessage)] = []
            guard arrival < UInt64.max else { return [] }
            try txn.scan(tables.messages, from: MailboxKey.message(recipient, arrival: arrival + 1), until: MailboxKey.range(of: recipient).until) { key, value in
                var reader = ByteReader(value)
                result.append((MailboxKey.arrival(ofMessageKey: key) ?? 0, try MailMessage.decode(from: &reader)))
                return result.count < limit
            }
            return result
        }
    }

    /// Each sender's lowest sequences in `recipient`'s mailbox (at most `perSender` each, `limit`
    /// in all), whatever order they arrived in: what the recipient can deliver next. A message
    /// that arrived after later ones of its sender (relayed once a direct attempt timed out, say)
    /// comes first here, where the arrival order would put it behind them.
    ///
    /// Costs a read in proportion to `limit`, not to the mailbox: once a sender gave its
    /// `perSender`, the cursor jumps past the rest of that sender's entries.
    public func sequenceHeads(for recipient: NodeID, perSender: Int, limit: Int) throws -> [(arrival: UInt64, message: MailMessage)] {
        guard perSender > 0, limit > 0 else { return [] }
        return try readState { txn, tables in
            var arrivals: [UInt64] = []
            let range = MailboxKey.range(of: recipient)
            var start: [UInt8]? = range.from
            while let from = start, arrivals.count < limit {
                start = nil
                var sender: ArraySlice<UInt8> = []
                var taken = 0
                try txn.scan(tables.index, from: from, until: range.until) { key, value in
                    guard key.count == 40, let arrival = MailboxIndexEntry(value)?.arrival else { return true }
                    let keySender = key[16..<32]
                    if keySender != sender {
                        sender = keySender
                        taken = 0
                    }
                    guard taken < perSender else {
                        // The rest of this sender's entries are not wanted: seek past them.
                        start = MailboxKey.successor(ofPrefix: Array(key.prefix(32)))
                        return false
                    }
                    arrivals.append(arrival)
                    taken += 1
                    return arrivals.count < limit
                }
            }
            var result: [(arrival: UInt64, message: MailMessage)] = []
            for arrival in arrivals {
                guard let stored = try txn.get(tables.messages, MailboxKey.message(recipient, arrival: arrival)) else { continue }
                var reader = ByteReader(stored)
                result.append((arrival, try MailMessage.decode(from: &reader)))
            }
            return result
        }
    }

    /// Depth, bytes and oldest message of `recipient`'s mailbox.
    public func stats(for recipient: NodeID) throws -> MailboxStats {
        try readState { txn, tables in
            guard let bytes = try txn.get(tables.boxes, MailboxKey.node(recipient)) else { return .empty }
            let box = try Box.decode(bytes)
            let count = box.count
            let size = box.bytes
            var oldest: UInt64?
            try txn.scan(tables.messages, from: MailboxKey.range(of: recipient).from, until: MailboxKey.range(of: recipient).until) { _, value in
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
        try readState { txn, tables in
            try txn.get(tables.boxes, MailboxKey.node(recipient)).map { try Box.decode($0).skips } ?? 0
        }
    }

    /// Items (messages and skips) `sender` has in `recipient`'s mailbox: what its quota counts.
    public func items(from sender: NodeID, in recipient: NodeID) throws -> Int {
        try readState { txn, tables in
            try txn.get(tables.senders, MailboxKey.pair(recipient, sender)).flatMap { UInt64(bigEndianBytes: $0) }.map { Int(clamping: $0) } ?? 0
        }
    }

    /// What all mailboxes hold together, in bytes (payloads plus
    /// ``MailboxLimits/recordOverhead`` per record): what ``MailboxLimits/maximumTotalBytes`` caps.
    public func totalBytes() throws -> Int {
        try readState { txn, tables in
            try txn.get(tables.totals, Self.totalBytesKey).flatMap { UInt64(bigEndianBytes: $0) }.map { Int(clamping: $0) } ?? 0
        }
    }

    /// Whether `recipient`'s mailbox holds the message `id` (a message, not a skip) in this
    /// replica's applied state: what a server checks before it passes a recipient's
    /// acknowledgement on to the sender as a receipt.
    public func holdsMessage(_ id: MessageID, for recipient: NodeID) throws -> Bool {
        try readState { txn, tables in
            guard let entry = try txn.get(tables.index, MailboxKey.index(recipient, id)).flatMap(MailboxIndexEntry.init) else { return false }
            return !entry.isSkip
        }
    }

    /// Whether `recipient`'s mailbox holds `id` (a message or a skip) in this replica's applied
    /// state: an acknowledgement of anything else would change nothing, so it is not proposed.
    public func holdsItem(_ id: MessageID, for recipient: NodeID) throws -> Bool {
        try readState { txn, tables in try txn.get(tables.index, MailboxKey.index(recipient, id)) != nil }
    }

    /// The highest sequence from `sender` that `recipient` acknowledged (0: none).
    public func deliveredThrough(recipient: NodeID, sender: NodeID) throws -> UInt64 {
        try readState { txn, tables in
            try txn.get(tables.delivered, MailboxKey.pair(recipient, sender)).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
        }
    }

    /// The registry entry of one client.
    public func client(_ id: NodeID) throws -> ClientRecord? {
        try readState { txn, tables in
            guard let bytes = try txn.get(tables.clients, MailboxKey.node(id)) else { return nil }
            var reader = ByteReader(bytes)
            return try ClientRecord.decode(from: &reader, enforcingLimits: false)
        }
    }

    /// Every server that announced its address (``MailboxCommand/registerServer(id:address:)``),
    /// by id.
    public func servers() throws -> [NodeID: String] {
        try readState { txn, tables in
            var result: [NodeID: String] = [:]
            try txn.scan(tables.servers) { key, value in
                if let id = NodeID(bytes: key) { result[id] = String(decoding: value, as: UTF8.self) }
                return true
            }
            return result
        }
    }

    /// One page of the registry, ordered by id: up to `limit` records with ids after `after`
    /// (from the start when `nil`), leaving out `excluded` ids (servers' own endpoints), and
    /// whether more follow. Reads with one cursor from `after` and stops at the limit, so a page
    /// costs memory in proportion to `limit`, never to the registry.
    public func clients(after: NodeID?, limit: Int, excluding excluded: Set<NodeID> = []) throws -> (records: [ClientRecord], more: Bool) {
        let limit = max(limit, 0)
        return try readState { txn, tables in
            var records: [ClientRecord] = []
            var more = false
            // Keys are exactly the 16 id bytes: the id followed by a zero byte is the first key after it.
            let start = after.map { MailboxKey.node($0) + [0] }
            try txn.scan(tables.clients, from: start) { key, value in
                if let id = NodeID(bytes: key), excluded.contains(id) { return true }
                guard records.count < limit else {
                    more = true
                    return false
                }
                var reader = ByteReader(value)
                records.append(try ClientRecord.decode(from: &reader, enforcingLimits: false))
                return true
            }
            return (records, more)
        }
    }

    /// Every client known to the cluster, online or not, ordered by id (see
    /// ``clients(after:limit:excluding:)`` for a page at a time).
    public func clients() throws -> [ClientRecord] {
        try readState { txn, tables in
            var result: [ClientRecord] = []
            try txn.scan(tables.clients) { _, value in
                var reader = ByteReader(value)
                result.append(try ClientRecord.decode(from: &reader, enforcingLimits: false))
                return true
            }
            return result
        }
    }
}
