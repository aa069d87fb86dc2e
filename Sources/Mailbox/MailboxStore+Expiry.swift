import LMDB
import MessageModel
import P2PCore

/// Expiry (docs/DELIVERY.md, "Expiry"): the fate of a message with an expiry is decided once,
/// here, by whichever committed first — the recipient's ``MailboxCommand/claim(recipient:id:)``
/// (it may be delivered, it can no longer expire) or the leader's
/// ``MailboxCommand/expire(recipient:id:atMillis:)`` (it becomes a skip, never delivered).
extension MailboxStore {
    func expire(recipient: NodeID, id: MessageID, atMillis: UInt64, _ txn: borrowing WriteTransaction) throws -> MailboxOutcome {
        guard let entry = try txn.get(index(txn), MailboxKey.index(recipient, id)).flatMap(MailboxIndexEntry.init) else { return .notFound }
        if entry.isSkip { return try hasExpired(recipient, id, txn) ? .expired : .notFound }
        if entry.isClaimed { return .claimed }
        let messageKey = MailboxKey.message(recipient, arrival: entry.arrival)
        guard let stored = try txn.get(messagesDB(txn), messageKey) else { return .notFound }
        var reader = ByteReader(stored)
        let message = try MailMessage.decode(from: &reader)
        guard let expiry = message.expiresAtMillis, atMillis >= expiry else { return .notFound }
        try discard(message, at: messageKey, txn)
        try markExpired(recipient, id, atMillis: expiry, txn)
        return .expired
    }

    func claim(recipient: NodeID, id: MessageID, _ txn: borrowing WriteTransaction) throws -> MailboxOutcome {
        if try hasExpired(recipient, id, txn) { return .expired }
        let indexKey = MailboxKey.index(recipient, id)
        guard var entry = try txn.get(index(txn), indexKey).flatMap(MailboxIndexEntry.init) else {
            let through = try txn.get(delivered(txn), MailboxKey.pair(recipient, id.sender)).flatMap { UInt64(bigEndianBytes: $0) } ?? 0
            return id.sequence <= through ? .alreadyDelivered : .notFound
        }
        if entry.isSkip { return .skipped }
        if entry.isClaimed { return .claimed }
        entry.isClaimed = true
        try txn.put(index(txn), indexKey, entry.bytes)
        // Claimed: the sweep must not find it any more.
        if let stored = try txn.get(messagesDB(txn), MailboxKey.message(recipient, arrival: entry.arrival)) {
            var reader = ByteReader(stored)
            if let expiry = try MailMessage.decode(from: &reader).expiresAtMillis {
                try txn.delete(expiriesDB(txn), MailboxKey.expiry(expiry, recipient, id))
            }
        }
        return .claimed
    }

    func markExpired(_ recipient: NodeID, _ id: MessageID, atMillis: UInt64, _ txn: borrowing WriteTransaction) throws {
        try txn.put(expiredDB(txn), MailboxKey.index(recipient, id), atMillis.bigEndianBytes)
    }

    func hasExpired(_ recipient: NodeID, _ id: MessageID, _ txn: borrowing WriteTransaction) throws -> Bool {
        try txn.get(expiredDB(txn), MailboxKey.index(recipient, id)) != nil
    }

    /// Up to `limit` unclaimed messages whose expiry is at or before `atMillis`, earliest first:
    /// what the leader proposes to expire.
    public func dueExpirations(atMillis: UInt64, limit: Int = 256) throws -> [(recipient: NodeID, id: MessageID)] {
        try readState { txn, tables in
            var due: [(recipient: NodeID, id: MessageID)] = []
            guard limit > 0 else { return due }
            try txn.scan(tables.expiries) { key, _ in
                guard let entry = MailboxKey.expiryEntry(key) else { return true }
                guard entry.atMillis <= atMillis else { return false }
                due.append((entry.recipient, entry.id))
                return due.count < limit
            }
            return due
        }
    }

    /// Whether `id` (to `recipient`) expired: the cluster decided it will never be delivered.
    public func hasExpired(recipient: NodeID, id: MessageID) throws -> Bool {
        try readState { txn, tables in try txn.get(tables.expired, MailboxKey.index(recipient, id)) != nil }
    }
}
