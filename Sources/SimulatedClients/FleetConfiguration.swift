import ClientProtocol
import P2PCore

/// How a fleet of simulated clients reaches its cluster.
public struct FleetConfiguration: Sendable {
    /// The servers' `host:port`; each client attaches to at most ``maximumAttachedServers`` of
    /// them, as a real client does.
    public var servers: [String]
    /// The cluster secret (the client credential).
    public var secret: String
    /// The cluster key the clients trust (its 32-byte public half): a welcome must prove it, as
    /// for a real client configured with `ClientConfiguration.clusterKey`.
    public var clusterKey: [UInt8]
    /// Servers each client attaches to at most, chosen as the real client chooses them
    /// (`ClientConfiguration.maximumAttachedServers`, the rendezvous ranking of
    /// `AttachmentPlan` with its fall-over); 3 by default, as there.
    public var maximumAttachedServers = 3
    /// Whether each client observes its UDP mapping as the real client does: one UDP socket per
    /// client, the servers it is attached to asked at once, paced by ``observationPace``.
    public var observeUDP = true
    public var observationPace = ObservationPace.schedule
    /// How long one relay attempt (send → the server's answer) may take before another server is tried.
    public var attemptTimeout: Duration = .seconds(3)

    /// When a simulated client observes its UDP mapping again.
    public enum ObservationPace: Sendable, Equatable {
        /// The real client's `MappingSchedule`: every second until an answer, then every 5 s,
        /// doubling to 30 s while the mapping stays the same.
        case schedule
        /// Every `interval` once answered (every second until then): the real client's fastest
        /// pace kept for ever, an upper bound of the servers' observation load.
        case every(Duration)
    }

    /// The servers (their indices in ``servers``) that `client` attaches to while all are up:
    /// the first ``maximumAttachedServers`` of its rendezvous ranking.
    public func preferredServers(of client: NodeID) -> [Int] {
        AttachmentPlan.ranked(servers, for: client).prefix(max(1, maximumAttachedServers)).compactMap { servers.firstIndex(of: $0) }
    }

    public init(servers: [String], secret: String, clusterKey: [UInt8]) {
        self.servers = servers
        self.secret = secret
        self.clusterKey = clusterKey
    }
}
