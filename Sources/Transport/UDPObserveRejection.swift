import P2PCore

/// Observe requests a server's ``UDPEndpoint`` proved to come from a cluster member but did not
/// answer, for the operator's log (``UDPEndpoint/observeRejections``): reported at most once per
/// ``interval`` per reason, the first refused request of a round standing for the ``count`` since.
public struct UDPObserveRejection: Sendable, Equatable {
    /// Why requests were not answered.
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// A request without a timestamp, from a client before timestamps: it could be replayed
        /// at any time, so it is refused; the client must be upgraded to observe its mapping here.
        case legacyRequest = "no timestamp (a client from before timestamped observe requests)"
        /// Stamped further from this server's clock than the replay window: an old replay, or a
        /// client (or server) clock that is off.
        case outsideWindow = "stamped outside the replay window (a replay, or a clock that is off)"
        /// Stamped in a second whose nonces were forgotten because too many requests came within
        /// the window (a flood).
        case crowdedOut = "stamped too early for the crowded replay window"
    }

    /// How often each reason is reported at most.
    public static let interval: Duration = .seconds(10)

    public let reason: Reason
    /// The client the first refused request of this round claimed to be (its signature not
    /// necessarily checked), and where it came from.
    public let client: NodeID
    public let address: String
    /// How far its timestamp was from this server's clock, in milliseconds (positive: ahead); 0 when it had none.
    public let skewMilliseconds: Int64
    /// Requests refused for this reason since the last report (this one included).
    public let count: Int
}
