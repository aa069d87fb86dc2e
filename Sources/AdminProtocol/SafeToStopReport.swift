import P2PCore

/// Whether one server can be stopped (for maintenance, a rolling upgrade) without losing the
/// cluster's quorum, and whether it is ready now.
public struct SafeToStopReport: Codable, Equatable, Sendable {
    /// The server asked about.
    public var server: NodeID
    /// Stopping it leaves a quorum of reachable, caught-up voters (and a leader is known).
    public var safe: Bool
    /// The server is reachable, knows a leader and has applied what is committed.
    public var serverReady: Bool
    public var voters: Int
    /// Voters needed for a quorum.
    public var quorum: Int
    /// Voters other than ``server`` that are reachable and caught up.
    public var othersCaughtUp: Int
    /// One sentence for the operator.
    public var explanation: String

    public init(server: NodeID, safe: Bool, serverReady: Bool, voters: Int, quorum: Int, othersCaughtUp: Int, explanation: String) {
        self.server = server
        self.safe = safe
        self.serverReady = serverReady
        self.voters = voters
        self.quorum = quorum
        self.othersCaughtUp = othersCaughtUp
        self.explanation = explanation
    }
}
