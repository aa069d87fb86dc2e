/// Per-client mailbox limits: a full mailbox refuses new mail instead of filling the disk.
///
/// Every server of a cluster must use the same limits (they shape replicated decisions).
public struct MailboxLimits: Sendable, Equatable {
    public var maximumMessages: Int
    public var maximumBytes: Int

    public init(maximumMessages: Int = 100_000, maximumBytes: Int = 256 << 20) {
        self.maximumMessages = maximumMessages
        self.maximumBytes = maximumBytes
    }
}
