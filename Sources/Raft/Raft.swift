/// Bounds on the values Raft accepts from the wire and from disk.
///
/// Terms and indexes grow by one per election or entry, so a real cluster stays far below these
/// bounds forever; a value above them can only come from a hostile or corrupted peer or disk. The
/// codec refuses such values (``DecodingError``), ``RaftNode/step(_:)`` drops messages that carry
/// them, and a node never campaigns past ``maximumTerm``, so no arithmetic on a term or an index
/// can overflow (`maximumTerm + 1` and `maximumIndex + entries` fit comfortably in a `UInt64`).
public enum Raft {
    /// The largest term a node accepts or reaches (2^62).
    public static let maximumTerm: Term = 1 << 62
    /// The largest log index a node accepts (2^62).
    public static let maximumIndex: LogIndex = 1 << 62
    /// The most entries one AppendEntries may carry.
    public static let maximumEntriesPerMessage = 1 << 20

    /// Whether `term` is within ``maximumTerm``.
    @inlinable public static func isValid(term: Term) -> Bool { term <= maximumTerm }
    /// Whether `index` is within ``maximumIndex``.
    @inlinable public static func isValid(index: LogIndex) -> Bool { index <= maximumIndex }
}
