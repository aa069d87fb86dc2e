import LMDB
import MessageModel
import P2PCore

extension MailboxStore {
    /// Decides the fate of a message (or of a skip its sender owes, `message.isSkip`); see
    /// docs/DELIVERY.md, "Quotas". In order: unknown recipient, already delivered, a retry (the
    /// first decision stands; a sender's skip retracts its own stored, undelivered message), the
    /// sender's quota in this mailbox, then the mailbox limits (over them, a skip takes the
    /// message's place), then the store-wide total. Skips count against every limit; a skip is
    /// admitted over the mailbox limits (it is what keeps the recipient's sequence gapless) but
    /// never over the sender's quota or the store-wide total.
    ///
    /// What the message adds to its sender's relay counters goes into `relayed`, which the caller
    /// stores.
    func enqueue(_ message: MailMessage, _ txn: borrowing WriteTransaction, relayed: inout RelayedCounts) throws -> MailboxOutcome {
        let recipient = message.recipient
        let sender = message.id.sender
        guard try txn.get(clientsDB(txn), MailboxKey.node(recipient)) != nil else { return .unknownRecipient }
        let through = try txn.get(delivered(txn), MailboxKey.pair(recipient, sender))
            .flatMap { UInt64(bigEndianBytes: $0) } ?? 0
        // An id below the watermark was delivered, or passed over because it expired: the
        // marker tells which (a sender retrying an expired message must not hear "delivered").
        if message.id.sequence <= through { return try hasExpired(recipient, message.id, txn) ? .expired : .alreadyDelivered }
        var box = try loadBox(recipient, txn)
        let indexKey = MailboxKey.index(recipient, message.id)
        if let stored = try txn.get(index(txn), indexKey) {
            let existing = MailboxIndexEntry(stored)
            if existing?.isSkip == true {
                if try hasExpired(recipient, message.id, txn) { return .expired }
                return message.isSkip ? .stored : .mailboxFull(messages: box.count, bytes: box.bytes)
            }
            // The sender gave up on this id (a copy was refused, so it owes a skip) while another
            // copy got in: the sender's word is the last, the recipient passes over the id.
            if message.isSkip, let existing {
                let messageKey = MailboxKey.message(recipient, arrival: existing.arrival)
                if let stored = try txn.get(messagesDB(txn), messageKey) {
                    var reader = ByteReader(stored)
                    try discard(try MailMessage.decode(from: &reader), at: messageKey, txn)
                }
            }
            return .stored
        }
        var senderItems = try loadSenderItems(recipient, sender, txn)
        // The skip for the very sequence the recipient waits for is let in over the sender's quota
        // and the store-wide total: the items that fill them may be the same sender's later
        // messages (or, for the total, anyone's messages stuck behind such gaps), which cannot
        // leave before that sequence is filled (found by the delivery simulator). It costs one
        // record overhead, and a pair has at most one at a time.
        let isNextExpected = message.isSkip && message.id.sequence == through + 1
        if senderItems >= limits.maximumMessagesPerSender, !isNextExpected {
            return .senderQuotaExceeded(limit: limits.maximumMessagesPerSender)
        }
        // Arrival numbers cannot run out in practice; a restored state claiming so refuses mail.
        guard box.nextArrival < UInt64.max else { return .mailboxFull(messages: box.count, bytes: box.bytes) }
        let overhead = MailboxLimits.recordOverhead
        let size = message.isSkip ? 0 : message.payload.count
        // Written so that no sum can overflow, whatever the stored counters claim.
        let items = box.count.addingReportingOverflow(box.skips)
        let used = box.bytes.addingReportingOverflow(box.skips.multipliedReportingOverflow(by: overhead).partialValue)
        // Expired before it got in (the proposing server's clock): only its skip is stored.
        let expiredOnArrival = !message.isSkip && message.isExpired(atMillis: message.enqueuedAtMillis)
        let fitsMailbox = !message.isSkip && !expiredOnArrival && !items.overflow && !used.overflow
            && items.partialValue < limits.maximumMessages
            && size <= limits.maximumBytes && used.partialValue <= limits.maximumBytes - size
        let cost = fitsMailbox ? size + overhead : overhead
        var total = try loadTotalBytes(txn)
        if total > limits.maximumTotalBytes - min(cost, limits.maximumTotalBytes) || cost > limits.maximumTotalBytes, !isNextExpected {
            return .storageFull(limit: limits.maximumTotalBytes)
        }

        let record = fitsMailbox ? message : message.skip()
        let arrival = box.nextArrival
        var writer = ByteWriter(capacity: record.payload.count + 64)
        record.encode(into: &writer)
        try txn.put(messagesDB(txn), MailboxKey.message(recipient, arrival: arrival), writer.bytes)
        try txn.put(index(txn), indexKey, MailboxIndexEntry(arrival: arrival, isSkip: !fitsMailbox).bytes)
        let refused = (messages: box.count, bytes: box.bytes)
        box.nextArrival += 1
        // fitsMailbox implies these sums are within the limits; a skip saturates.
        if fitsMailbox {
            box.count += 1
            box.bytes += size
        } else {
            box.skips = box.skips.saturatingAdding(1)
        }
        try storeBox(recipient, box, txn)
        // Saturating, as below: over the limits only for the skip let in, and the stored
        // counters may claim anything.
        senderItems = senderItems.saturatingAdding(1)
        try storeSenderItems(recipient, sender, senderItems, txn)
        total = total.saturatingAdding(cost)
        try storeTotalBytes(total, txn)
        guard fitsMailbox else {
            if expiredOnArrival {
                try markExpired(recipient, message.id, atMillis: message.expiresAtMillis ?? 0, txn)
                return .expired
            }
            return message.isSkip ? .stored : .mailboxFull(messages: refused.messages, bytes: refused.bytes)
        }
        if let expiry = record.expiresAtMillis { try txn.put(expiriesDB(txn), MailboxKey.expiry(expiry, recipient, record.id), []) }

        relayed.add(sender, bytes: UInt64(size))
        return .stored
    }

    enum Removal { case absent, message, skip }

    /// Replaces a message with its skip (same arrival, same id) and takes it out of the counts.
    func discard(_ message: MailMessage, at messageKey: [UInt8], _ txn: borrowing WriteTransaction) throws {
        let recipient = message.recipient
        var writer = ByteWriter(capacity: 64)
        message.skip().encode(into: &writer)
        try txn.put(messagesDB(txn), messageKey, writer.bytes)
        if let expiry = message.expiresAtMillis { try txn.delete(expiriesDB(txn), MailboxKey.expiry(expiry, recipient, message.id)) }
        guard let arrival = MailboxKey.arrival(ofMessageKey: messageKey) else { return }
        try txn.put(index(txn), MailboxKey.index(recipient, message.id), MailboxIndexEntry(arrival: arrival, isSkip: true).bytes)
        var box = try loadBox(recipient, txn)
        box.count = max(0, box.count - 1)
        box.bytes = max(0, box.bytes - message.payload.count)
        box.skips = box.skips.saturatingAdding(1)
        try storeBox(recipient, box, txn)
        // The record stays (as a skip): the sender's item count is unchanged, its payload is freed.
        try storeTotalBytes(max(0, try loadTotalBytes(txn) - message.payload.count), txn)
    }

    func remove(recipient: NodeID, id: MessageID, _ txn: borrowing WriteTransaction) throws -> Removal {
        let indexKey = MailboxKey.index(recipient, id)
        guard let entry = try txn.get(index(txn), indexKey).flatMap(MailboxIndexEntry.init) else { return .absent }
        let messageKey = MailboxKey.message(recipient, arrival: entry.arrival)
        let isSkip = entry.isSkip
        var size = 0
        if !isSkip, let stored = try txn.get(messagesDB(txn), messageKey) {
            var reader = ByteReader(stored)
            let message = try MailMessage.decode(from: &reader)
            size = message.payload.count
            if let expiry = message.expiresAtMillis { try txn.delete(expiriesDB(txn), MailboxKey.expiry(expiry, recipient, id)) }
        }
        try txn.delete(messagesDB(txn), messageKey)
        try txn.delete(index(txn), indexKey)
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
}
