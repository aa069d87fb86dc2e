/// Size of one client's mailbox.
public struct MailboxStats: Equatable, Sendable {
    public var messages: Int
    public var bytes: Int
    /// Enqueue time of the oldest message, milliseconds since 1970; `nil` when empty.
    public var oldestEnqueuedAtMillis: UInt64?

    public static let empty = MailboxStats(messages: 0, bytes: 0, oldestEnqueuedAtMillis: nil)
}
