/// A confirmed read: the leader's commit index when the read was asked for, confirmed by a
/// quorum of voters afterwards (so no newer leader had committed anything beyond it).
public struct ReadState: Equatable, Sendable {
    /// Apply at least this index before reading.
    public var index: LogIndex
    /// The request this state answers, as passed to ``RaftNode/readIndex(context:)``.
    public var context: UInt64

    public init(index: LogIndex, context: UInt64) {
        self.index = index
        self.context = context
    }
}
