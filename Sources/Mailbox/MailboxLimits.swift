/// Mailbox limits: a full mailbox (or a full store) refuses new mail instead of filling the disk.
///
/// Every server of a cluster must use the same limits (they shape replicated decisions).
///
/// Skip records (left for refused or removed messages) count against every limit: one item and
/// ``recordOverhead`` bytes each. A stored message costs its payload in the mailbox byte limit,
/// and its payload plus ``recordOverhead`` in the store-wide total.
public struct MailboxLimits: Sendable, Equatable {
    /// Items (messages and skips) one mailbox holds before new messages become skips.
    public var maximumMessages: Int
    /// Bytes (payloads, plus ``recordOverhead`` per skip) one mailbox holds before new messages become skips.
    public var maximumBytes: Int
    /// Items (messages and skips) one sender may have in one recipient's mailbox; beyond it the
    /// sender's messages to that recipient are refused without storing anything.
    public var maximumMessagesPerSender: Int
    /// Bytes all mailboxes together may hold (payloads plus ``recordOverhead`` per record);
    /// beyond it messages are refused without storing anything.
    public var maximumTotalBytes: Int

    /// What a skip costs in the byte limits, and what any stored record costs in the store-wide
    /// total besides its payload.
    public static let recordOverhead = 64

    public init(
        maximumMessages: Int = 100_000, maximumBytes: Int = 256 << 20,
        maximumMessagesPerSender: Int = 10_000, maximumTotalBytes: Int = 8 << 30
    ) {
        self.maximumMessages = maximumMessages
        self.maximumBytes = maximumBytes
        self.maximumMessagesPerSender = maximumMessagesPerSender
        self.maximumTotalBytes = maximumTotalBytes
    }
}
